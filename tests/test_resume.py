"""Save at step K, load in a new process, continue to 2K == an uninterrupted 2K run."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import assert_bits_equal
from resume_cases import CASES, SHAPES, make, run

import fastopt as fo

K = 7


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_resume_in_a_new_process_is_bit_identical(tmp_path, dtype):
    dtype = np.dtype(dtype)
    expected = {}
    for case in CASES:
        params, opt = make(case, dtype)
        run(opt, params, 0, 2 * K, dtype)
        expected[case] = {k: np.array(params[k]) for k in SHAPES}
        params, opt = make(case, dtype)
        run(opt, params, 0, K, dtype)
        fo.optim.save_checkpoint(tmp_path / f"{case}.npz", opt, extra={"step": K})
    script = textwrap.dedent(f"""
        import numpy as np, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import fastopt as fo
        from resume_cases import CASES, SHAPES, make, run
        dtype = np.dtype({dtype.name!r})
        out = {{}}
        for case in CASES:
            params, opt = make(case, dtype, seed=99)   # different values: the file restores them
            extra = fo.optim.load_checkpoint({str(tmp_path)!r} + f"/{{case}}.npz", opt)
            run(opt, params, extra["step"], 2 * {K}, dtype)
            for k in SHAPES:
                out[case + "/" + k] = np.array(params[k])
        np.savez({str(tmp_path / "resumed.npz")!r}, **out)
    """)
    package_root = os.path.dirname(os.path.dirname(fo.__file__))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (package_root, os.environ.get("PYTHONPATH")) if p)}
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path, env=env)
    with np.load(tmp_path / "resumed.npz") as resumed:
        for case in CASES:
            for k in SHAPES:
                assert_bits_equal(resumed[f"{case}/{k}"], expected[case][k], f"{case}/{k}")


def test_state_dict_round_trip_in_memory_continues_identically():
    dtype = np.dtype(np.float64)
    for case in CASES:
        params, opt = make(case, dtype)
        run(opt, params, 0, K, dtype)
        sd = opt.state_dict()
        snapshot = {k: np.array(params[k]) for k in SHAPES}
        run(opt, params, K, 2 * K, dtype)
        first = {k: np.array(params[k]) for k in SHAPES}
        params2, opt2 = make(case, dtype)
        for k in SHAPES:
            params2[k][...] = snapshot[k]
        opt2.load_state_dict(sd)
        run(opt2, params2, K, 2 * K, dtype)
        for k in SHAPES:
            assert_bits_equal(params2[k], first[k], f"{case}/{k}")


def test_checkpoint_file_is_npz_without_pickle(tmp_path):
    params, opt = make("adadelta", np.dtype(np.float32))
    path = fo.optim.save_checkpoint(tmp_path / "ckpt", opt)
    assert path.suffix == ".npz"
    with np.load(path, allow_pickle=False) as data:
        assert len(data.files) > 0


def test_failed_load_changes_nothing(tmp_path):
    dtype = np.dtype(np.float64)
    params, opt = make("book-adam", dtype)
    run(opt, params, 0, 3, dtype)
    path = fo.optim.save_checkpoint(tmp_path / "a.npz", opt)
    other_params, other = make("book-adam", dtype, seed=5)
    other.param_groups[0]["lr"] = 0.5  # mismatching hyperparameter
    before = {k: other_params[k].copy() for k in SHAPES}
    before_state = other.state_dict()
    with pytest.raises(ValueError, match="lr"):
        fo.optim.load_checkpoint(path, other)
    for k in SHAPES:
        assert_bits_equal(other_params[k], before[k])
    assert other.state_dict()["param_groups"] == before_state["param_groups"]
    # strict=False adopts the saved hyperparameters
    fo.optim.load_checkpoint(path, other, strict=False)
    assert other.param_groups[0]["lr"] == 1e-2
    for k in SHAPES:
        assert_bits_equal(other_params[k], params[k])
