"""fastopt.data: the bundled digits, MNIST from local IDX files, and the validation split.

Nothing here downloads anything: the digits come from inside scikit-learn
(these tests skip without it) and the MNIST tests write tiny synthetic IDX
files into tmp_path.
"""
import gzip
import hashlib
import os
import struct
import sys
from collections import Counter

import numpy as np
import pytest

from fastopt.data import MNIST_FILES, load_digits, load_mnist, train_val_split


def _row_hashes(x):
    x = np.ascontiguousarray(x).reshape(x.shape[0], -1)
    return [hashlib.sha1(row.tobytes()).hexdigest() for row in x]


# ----------------------------------------------------------------------------- digits

@pytest.fixture(scope="module")
def sk_digits():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits as sk_load

    d = sk_load()
    return d.images.astype(np.uint8), d.target.astype(np.int64)


def test_digits_default_shapes_dtypes_ranges(sk_digits):
    (x_tr, t_tr), (x_te, t_te) = load_digits()
    assert x_tr.shape == (1438, 64) and x_te.shape == (359, 64)
    assert t_tr.shape == (1438,) and t_te.shape == (359,)
    assert x_tr.dtype == x_te.dtype == np.float32
    assert t_tr.dtype == t_te.dtype == np.int64
    for x in (x_tr, x_te):
        assert x.min() == 0.0 and x.max() == 1.0
        assert x.flags.c_contiguous and x.flags.writeable
        # normalized exactly as pixel / 16: multiplying back gives the integers 0..16
        assert np.array_equal(x * 16, np.round(x * 16))
    assert set(np.unique(t_tr)) == set(range(10)) == set(np.unique(t_te))


def test_digits_raw_unflattened_one_hot_float64(sk_digits):
    (x_tr, t_tr), (x_te, t_te) = load_digits(normalize=False, flatten=False, one_hot_label=True,
                                             dtype=np.float64)
    assert x_tr.shape == (1438, 1, 8, 8) and x_te.shape == (359, 1, 8, 8)
    assert x_tr.dtype == np.uint8 and x_tr.max() == 16 and x_tr.min() == 0
    assert t_tr.shape == (1438, 10) and t_tr.dtype == np.float64
    for t in (t_tr, t_te):
        assert set(np.unique(t)) == {0.0, 1.0}
        assert np.array_equal(t.sum(axis=1), np.ones(t.shape[0]))


def test_digits_options_agree_with_each_other(sk_digits):
    (x, t), (xt, tt) = load_digits(seed=3)
    (x_raw, t_oh), (xt_raw, tt_oh) = load_digits(seed=3, normalize=False, flatten=False,
                                                 one_hot_label=True)
    assert np.array_equal(x, x_raw.reshape(-1, 64).astype(np.float32) / np.float32(16))
    assert np.array_equal(t, t_oh.argmax(axis=1)) and t_oh.dtype == np.float32
    assert np.array_equal(tt, tt_oh.argmax(axis=1))
    (x64, _), _ = load_digits(seed=3, dtype=np.float64)
    assert x64.dtype == np.float64 and np.array_equal(x64, x.astype(np.float64))


def test_digits_deterministic_for_a_seed():
    pytest.importorskip("sklearn")
    a = load_digits(seed=7)
    b = load_digits(seed=7)
    for (xa, ta), (xb, tb) in zip(a, b):
        assert np.array_equal(xa, xb) and np.array_equal(ta, tb)


def test_digits_different_seeds_differ():
    pytest.importorskip("sklearn")
    (_, _), (x0, _) = load_digits(seed=0)
    (_, _), (x1, _) = load_digits(seed=1)
    assert set(_row_hashes(x0)) != set(_row_hashes(x1))


@pytest.mark.parametrize("test_size", [0.1, 0.2, 0.5, 0.75])
def test_digits_stratified(sk_digits, test_size):
    _, labels = sk_digits
    per_class = np.bincount(labels, minlength=10)
    (_, t_tr), (_, t_te) = load_digits(test_size=test_size, seed=5)
    test_counts = np.bincount(t_te, minlength=10)
    assert np.array_equal(np.bincount(t_tr, minlength=10) + test_counts, per_class)
    share = test_counts / per_class
    # round(test_size * n_c) per class: off by at most half a sample
    assert np.all(np.abs(share - test_size) <= 0.5 / per_class + 1e-12), share
    assert abs(t_te.size / labels.size - test_size) < 0.01


def test_digits_split_is_a_partition_without_overlap(sk_digits):
    images, labels = sk_digits
    (x_tr, t_tr), (x_te, t_te) = load_digits(normalize=False, seed=11)
    h_tr, h_te = _row_hashes(x_tr), _row_hashes(x_te)
    assert not set(h_tr) & set(h_te)
    assert len(set(h_tr)) == len(h_tr) and len(set(h_te)) == len(h_te)
    # together exactly the bundled data set, each image with its own label
    full = Counter(zip(_row_hashes(images), labels.tolist()))
    got = Counter(zip(h_tr + h_te, t_tr.tolist() + t_te.tolist()))
    assert got == full


def test_digits_sets_are_shuffled(sk_digits):
    (_, t_tr), (_, t_te) = load_digits()
    assert np.any(np.diff(t_tr) < 0) and np.any(np.diff(t_te) < 0)


def test_digits_without_sklearn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r'pip install "fastopt\[data\]"') as info:
        load_digits()
    assert "scikit-learn" in str(info.value)


# ----------------------------------------------------------------------------- MNIST

N_TRAIN, N_TEST = 5, 3


def _idx_images(images):
    n, rows, cols = images.shape
    return struct.pack(">IIII", 0x00000803, n, rows, cols) + images.astype(np.uint8).tobytes()


def _idx_labels(labels):
    return struct.pack(">II", 0x00000801, len(labels)) + np.asarray(labels, np.uint8).tobytes()


def _write(path, payload, gz):
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


@pytest.fixture
def mnist_dir(tmp_path):
    """Writes 5 train and 3 test random 28x28 images; returns (dir, arrays, write)."""
    rng = np.random.default_rng(42)
    arrays = {
        "train_img": rng.integers(0, 256, size=(N_TRAIN, 28, 28), dtype=np.uint8),
        "train_label": np.array([3, 0, 9, 3, 7], np.uint8),
        "test_img": rng.integers(0, 256, size=(N_TEST, 28, 28), dtype=np.uint8),
        "test_label": np.array([1, 9, 0], np.uint8),
    }
    arrays["train_img"][0, 0, 0], arrays["train_img"][0, 0, 1] = 0, 255

    def write(role, payload=None, gz=True):
        name = MNIST_FILES[role] if gz else MNIST_FILES[role][:-3]
        if payload is None:
            payload = (_idx_images if role.endswith("img") else _idx_labels)(arrays[role])
        _write(tmp_path / name, payload, gz)
        return tmp_path / name

    return tmp_path, arrays, write


def _write_all(write, gz=True):
    for role in MNIST_FILES:
        write(role, gz=gz if not isinstance(gz, dict) else gz[role])


@pytest.mark.parametrize("gz", [True, False, {"train_img": True, "train_label": False,
                                              "test_img": False, "test_label": True}],
                         ids=["gzip", "plain", "mixed"])
def test_mnist_round_trip_raw(mnist_dir, gz):
    path, arrays, write = mnist_dir
    _write_all(write, gz)
    (x_tr, t_tr), (x_te, t_te) = load_mnist(path, normalize=False, flatten=False)
    assert x_tr.dtype == np.uint8 and x_tr.shape == (N_TRAIN, 1, 28, 28)
    assert np.array_equal(x_tr[:, 0], arrays["train_img"])
    assert np.array_equal(x_te[:, 0], arrays["test_img"])
    assert t_tr.dtype == np.int64 and np.array_equal(t_tr, arrays["train_label"])
    assert np.array_equal(t_te, arrays["test_label"])
    assert x_tr.flags.writeable and t_tr.flags.writeable


def test_mnist_defaults_match_the_book(mnist_dir):
    path, arrays, write = mnist_dir
    _write_all(write)
    (x_tr, t_tr), (x_te, t_te) = load_mnist(str(path))
    assert x_tr.shape == (N_TRAIN, 784) and x_te.shape == (N_TEST, 784)
    assert x_tr.dtype == np.float32 and t_tr.dtype == np.int64
    # the book: dataset[key] = dataset[key].astype(np.float32); dataset[key] /= 255.0
    book = arrays["train_img"].reshape(N_TRAIN, 784).astype(np.float32)
    book /= 255.0
    assert np.array_equal(x_tr.view(np.uint32), book.view(np.uint32))
    assert x_tr.min() == 0.0 and x_tr.max() == 1.0


def test_mnist_one_hot_and_float64(mnist_dir):
    path, arrays, write = mnist_dir
    _write_all(write)
    (x_tr, t_tr), (_, t_te) = load_mnist(path, one_hot_label=True, dtype=np.float64)
    assert x_tr.dtype == np.float64
    assert np.array_equal(x_tr, arrays["train_img"].reshape(N_TRAIN, 784) / 255.0)
    assert t_tr.shape == (N_TRAIN, 10) and t_tr.dtype == np.float64
    assert np.array_equal(t_tr, np.eye(10)[arrays["train_label"]])
    assert np.array_equal(t_te, np.eye(10)[arrays["test_label"]])


def test_mnist_prefers_gz_and_accepts_pathlike_and_home(mnist_dir, monkeypatch):
    path, arrays, write = mnist_dir
    _write_all(write, gz=True)
    # an uncompressed decoy with other labels next to the .gz: the .gz wins
    write("train_label", _idx_labels([0, 0, 0, 0, 0]), gz=False)
    (_, t_tr), _ = load_mnist(path, normalize=False)
    assert np.array_equal(t_tr, arrays["train_label"])
    monkeypatch.setenv("HOME", str(path.parent))
    (_, t_tr2), _ = load_mnist(os.path.join("~", path.name), normalize=False)
    assert np.array_equal(t_tr2, t_tr)


def test_mnist_gzip_detected_by_content(mnist_dir):
    path, arrays, write = mnist_dir
    _write_all(write)
    # a plain IDX file under the .gz name is read as plain
    (path / MNIST_FILES["test_label"]).write_bytes(_idx_labels(arrays["test_label"]))
    _, (_, t_te) = load_mnist(path)
    assert np.array_equal(t_te, arrays["test_label"])


def test_mnist_missing_files_lists_them(mnist_dir):
    path, _, write = mnist_dir
    write("train_img")
    write("test_label", gz=False)
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(path)
    msg = str(info.value)
    assert "train-labels-idx1-ubyte.gz" in msg and "t10k-images-idx3-ubyte.gz" in msg
    assert "train-images-idx3-ubyte" not in msg and "t10k-labels-idx1-ubyte" not in msg
    assert str(path.resolve()) in msg
    assert "never downloads" in msg
    assert "2 of the 4" in msg


def test_mnist_missing_directory(tmp_path):
    where = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(where)
    msg = str(info.value)
    assert all(name in msg for name in MNIST_FILES.values())
    assert str(where) in msg and "never downloads" in msg


def test_mnist_path_is_a_file(tmp_path):
    f = tmp_path / "mnist.pkl"
    f.write_bytes(b"not a pickle we would ever load")
    with pytest.raises(NotADirectoryError, match="path must be a directory"):
        load_mnist(f)


#: (file role, its content from the fixture's arrays, gzipped, the error message): each file
#: written intact, then this one replaced (an uncompressed one stands alone, without the .gz).
BAD_FILES = {
    "corrupt magic": (  # a labels magic number in an images file
        "test_img", lambda a: b"\x00\x00\x08\x01" + _idx_images(a["test_img"])[4:], True,
        r"t10k-images-idx3-ubyte\.gz: bad magic number 0x00000801, expected 0x00000803"),
    "truncated payload": (
        "train_img", lambda a: _idx_images(a["train_img"])[:-10], False,
        r"train-images-idx3-ubyte: truncated: .*5x28x28 = 3920 bytes of data, found 3910"),
    "truncated header": (
        "train_label", lambda a: struct.pack(">IH", 0x801, 5), True,
        r"train-labels-idx1-ubyte\.gz: truncated header"),
    "trailing bytes": (
        "train_label", lambda a: _idx_labels(a["train_label"]) + b"\x00\x00", True,
        r"train-labels-idx1-ubyte\.gz: 2 unexpected bytes"),
    "two bytes only": (
        "train_label", lambda a: b"\x00\x00", True, r"train-labels-idx1-ubyte\.gz: truncated"),
    "count mismatch": (
        "test_label", lambda a: _idx_labels([1, 2]), True,
        r"t10k-images-idx3-ubyte\.gz holds 3 images but .*t10k-labels-idx1-ubyte\.gz holds 2 labels"),
    "label out of range": (
        "train_label", lambda a: _idx_labels([1, 2, 10, 3, 4]), True,
        r"train-labels-idx1-ubyte\.gz: labels must be 0\.\.9, found 10"),
    "train and test image sizes differ": (
        "test_img", lambda a: _idx_images(np.zeros((N_TEST, 20, 20), np.uint8)), True,
        r"training images are 28x28 but test images are 20x20"),
}


@pytest.mark.parametrize("role, content, gz, message", BAD_FILES.values(), ids=list(BAD_FILES))
def test_mnist_bad_file(mnist_dir, role, content, gz, message):
    path, arrays, write = mnist_dir
    _write_all(write)
    write(role, content(arrays), gz=gz)
    if not gz:
        (path / MNIST_FILES[role]).unlink()
    with pytest.raises(ValueError, match=message):
        load_mnist(path)


def test_mnist_truncated_gzip_stream(mnist_dir):
    path, _, write = mnist_dir
    _write_all(write)
    f = path / MNIST_FILES["test_img"]
    f.write_bytes(f.read_bytes()[:-20])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz: corrupt or truncated gzip"):
        load_mnist(path)


def test_mnist_never_reads_a_pickle(mnist_dir):
    path, arrays, write = mnist_dir
    _write_all(write)
    (path / "mnist.pkl").write_bytes(b"\x80\x04 this would explode if unpickled")
    (_, t_tr), _ = load_mnist(path, normalize=False)
    assert np.array_equal(t_tr, arrays["train_label"])


# ----------------------------------------------------------------------------- train_val_split

def test_train_val_split_sizes_and_pairs():
    x = np.arange(100, dtype=np.float32).reshape(50, 2)
    t = np.arange(50)
    (x_tr, t_tr), (x_val, t_val) = train_val_split(x, t)
    assert x_val.shape == (10, 2) and x_tr.shape == (40, 2)  # int(50 * 0.2), like the book
    assert t_val.shape == (10,) and t_tr.shape == (40,)
    assert x_tr.dtype == np.float32 and t_tr.dtype == t.dtype
    assert np.array_equal(x_tr[:, 0], 2 * t_tr) and np.array_equal(x_val[:, 0], 2 * t_val)
    assert sorted(np.concatenate([t_tr, t_val]).tolist()) == list(range(50))
    assert not np.array_equal(t_tr, np.sort(t_tr))  # shuffled
    (_, _), (x_v3, _) = train_val_split(x, t, val_fraction=0.33)
    assert x_v3.shape[0] == int(50 * 0.33)


def test_train_val_split_deterministic_and_copies():
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(30, 1, 4, 4)), np.eye(10)[rng.integers(0, 10, 30)]
    a = train_val_split(x, t, seed=4)
    b = train_val_split(x, t, seed=4)
    c = train_val_split(x, t, seed=5)
    for (xa, ta), (xb, tb) in zip(a, b):
        assert np.array_equal(xa, xb) and np.array_equal(ta, tb)
    assert not np.array_equal(a[1][0], c[1][0])
    assert a[0][0].shape == (24, 1, 4, 4) and a[1][1].shape == (6, 10)
    a[0][0][...] = 0
    assert np.any(x != 0)  # the input is untouched


# ----------------------------------------------------------------------------- bad arguments

X10, T10 = np.zeros((10, 3)), np.zeros(10, np.int64)

BAD_ARGS = [
    # (function, kwargs, exception, message regex)
    (load_digits, {"normalize": 1}, TypeError, r"normalize must be a bool, got int"),
    (load_digits, {"flatten": "yes"}, TypeError, r"flatten must be a bool, got str"),
    (load_digits, {"one_hot_label": None}, TypeError, r"one_hot_label must be a bool, got NoneType"),
    (load_digits, {"test_size": 0.0}, ValueError, r"test_size must be > 0\.0, got 0\.0"),
    (load_digits, {"test_size": 1}, ValueError, r"test_size must be < 1\.0, got 1\.0"),
    (load_digits, {"test_size": "0.2"}, TypeError, r"test_size must be a real number, got str"),
    (load_digits, {"test_size": float("nan")}, ValueError, r"test_size must be finite"),
    (load_digits, {"seed": -1}, ValueError, r"seed must be a non-negative int, got -1"),
    (load_digits, {"seed": 1.5}, TypeError, r"seed must be a non-negative int, got float"),
    (load_digits, {"seed": True}, TypeError, r"seed must be a non-negative int, got bool"),
    (load_digits, {"dtype": np.int32}, TypeError, r"dtype must be float32 or float64, got int32"),
    (load_digits, {"dtype": "not-a-dtype"}, TypeError, r"dtype must be float32 or float64"),
    (load_mnist, {"path": 123}, TypeError, r"path must be a str or os\.PathLike directory, got int"),
    (load_mnist, {"path": ".", "normalize": "true"}, TypeError, r"normalize must be a bool"),
    (load_mnist, {"path": ".", "dtype": np.float16}, TypeError, r"dtype must be float32 or float64, got float16"),
    (train_val_split, {"x": [1, 2, 3], "t": T10}, TypeError, r"x must be a numpy\.ndarray, got list"),
    (train_val_split, {"x": X10, "t": np.float64(1.0)}, TypeError, r"t must be a numpy\.ndarray, got float64"),
    (train_val_split, {"x": np.zeros(()), "t": T10}, ValueError, r"x must have a sample axis"),
    (train_val_split, {"x": X10, "t": T10[:9]}, ValueError, r"x and t must hold as many samples, got 10 and 9"),
    (train_val_split, {"x": X10, "t": T10, "val_fraction": 1.0}, ValueError, r"val_fraction must be < 1\.0"),
    (train_val_split, {"x": X10, "t": T10, "val_fraction": 0.05}, ValueError,
     r"val_fraction=0\.05 of 10 samples leaves an empty validation set"),
    (train_val_split, {"x": X10, "t": T10, "val_fraction": -0.1}, ValueError, r"val_fraction must be > 0\.0"),
    (train_val_split, {"x": X10, "t": T10, "seed": "0"}, TypeError, r"seed must be a non-negative int, got str"),
]


@pytest.mark.parametrize("func, kwargs, exc, message", BAD_ARGS,
                         ids=[f"{f.__name__}-{'-'.join(map(str, kw))}-{i}"
                              for i, (f, kw, _, _) in enumerate(BAD_ARGS)])
def test_bad_arguments(func, kwargs, exc, message):
    # argument checks come first, so these run without scikit-learn and without files
    with pytest.raises(exc, match=message):
        func(**kwargs)


def test_loaders_are_keyword_only():
    with pytest.raises(TypeError):
        load_digits(True)  # noqa
    with pytest.raises(TypeError):
        load_mnist(".", True)  # noqa
