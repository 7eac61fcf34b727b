"""The fastopt command."""
import json
import shutil
import subprocess
import sys

import pytest

from fastopt.cli import main


def test_info_json(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert "numpy" in info["backends"] and info["fastopt"]


def test_paths_prints_every_optimizer_and_writes_json(tmp_path, capsys):
    out = tmp_path / "paths.json"
    assert main(["paths", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    for name in ("SGD", "Momentum", "AdaGrad", "Adam", "Nesterov", "RMSprop"):
        assert name in text
    data = json.loads(out.read_text())
    assert len(data["paths"]["Adam"]["path"]) == 31


def test_paths_plot(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "paths.png"
    assert main(["paths", "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_arguments_give_a_clear_error(capsys):
    assert main(["paths", "--steps", "-1"]) == 2
    assert "steps must be an int >= 0" in capsys.readouterr().err
    assert main(["paths", "--backend", "gpu"]) == 2
    assert "unknown backend 'gpu'" in capsys.readouterr().err


def test_console_script_is_installed():
    exe = shutil.which("fastopt")
    if exe is None:
        pytest.skip("fastopt is not installed as a console script in this environment")
    result = subprocess.run([exe, "info"], capture_output=True, text=True, check=True)
    assert "backends" in result.stdout


def test_module_entry_point():
    result = subprocess.run([sys.executable, "-m", "fastopt.cli", "paths", "--steps", "3"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Adam" in result.stdout


def test_train_on_digits_writes_checkpoint_history_and_plot(tmp_path, capsys):
    pytest.importorskip("sklearn")
    out = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--hidden", "32,32", "--progress", "off",
                 "--dropout", "0.1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text
    history = json.loads((out / "history.json").read_text())
    assert len(history["val_acc"]) == 2 and history["val_acc"][-1] > 0.5
    assert (out / "checkpoint.npz").exists()
    if pytest.importorskip("matplotlib"):
        assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_train_mnist_without_files_says_what_to_do(tmp_path, capsys):
    assert main(["train", "--data", "mnist", "--mnist-dir", str(tmp_path), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte" in err


def test_train_defaults_reach_the_digits_goal(tmp_path, capsys):
    """The README's first command: >= 0.975 test accuracy on digits (the time is benchmarked, not tested)."""
    pytest.importorskip("sklearn")
    assert main(["train", "--progress", "off", "--out", str(tmp_path)]) == 0
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["val_acc"][-1] >= 0.975
