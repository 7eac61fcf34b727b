"""Data sets for the book's experiments, all read from local files; nothing is ever downloaded.

Two loaders return the book's ``(x_train, t_train), (x_test, t_test)`` layout:

* :func:`load_digits` -- the 1797 real 8x8 handwritten digits that ship inside
  scikit-learn (optional extra: ``pip install "fastopt[data]"``). Works offline
  and is small enough for tests, examples and quick hyperparameter searches.
* :func:`load_mnist` -- MNIST read from the four standard IDX files (gzipped or
  not) in a directory you provide, with the semantics of the book's
  ``dataset/mnist.py``. fastopt never fetches them for you.

:func:`train_val_split` holds out a shuffled validation set the way the book's
hyperparameter search does (ch. 6.5).

Conventions shared by both loaders
----------------------------------
* ``normalize=True``: images as ``dtype`` in ``[0, 1]``. ``normalize=False``:
  the raw pixel values as ``uint8``, as the book's loader returns them
  (0..255 for MNIST, 0..16 for the digits).
* ``flatten=True``: images of shape ``(N, H*W)``; ``flatten=False``:
  ``(N, 1, H, W)`` (one channel, for convolutional layers).
* ``one_hot_label=True``: labels of shape ``(N, 10)`` and dtype ``dtype``;
  otherwise class indices of dtype ``int64``, shape ``(N,)``.
* Every returned array is a fresh, writeable, C-contiguous array.
"""
import gzip
import math
import numbers
import os
import struct
import zlib

import numpy as np

from ._validate import FLOAT_DTYPES, check_bool, check_float, open_regular_file

__all__ = ["load_digits", "load_mnist", "train_val_split", "MNIST_FILES"]

NUM_CLASSES = 10

#: The four standard MNIST IDX files, by role. Each may also be present
#: uncompressed, under the same name without ``.gz``.
MNIST_FILES = {
    "train_img": "train-images-idx3-ubyte.gz",
    "train_label": "train-labels-idx1-ubyte.gz",
    "test_img": "t10k-images-idx3-ubyte.gz",
    "test_label": "t10k-labels-idx1-ubyte.gz",
}

_IDX_IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
_IDX_LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension
_GZIP_MAGIC = b"\x1f\x8b"

_INSTALL_HINT = 'pip install "fastopt[data]"'


# ----------------------------------------------------------------------------- checks

def _check_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _check_seed(seed):
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be a non-negative int, got {type(seed).__name__}")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")
    return seed


def _check_fraction(name, value):
    """A float strictly between 0 and 1."""
    return check_float(name, value, low=0.0, high=1.0, low_open=True, high_open=True)


def _check_loader_flags(normalize, flatten, one_hot_label, dtype):
    return (check_bool("normalize", normalize), check_bool("flatten", flatten),
            check_bool("one_hot_label", one_hot_label), _check_dtype(dtype))


# ----------------------------------------------------------------------------- shared

def _one_hot(labels, dtype):
    out = np.zeros((labels.shape[0], NUM_CLASSES), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out


def _format(images, labels, raw_max, normalize, flatten, one_hot_label, dtype):
    """images: uint8 (N, H, W); labels: int64 (N,). Applies the loader options."""
    n, h, w = images.shape
    if normalize:
        # The book: img.astype(np.float32); img /= 255.0 -- a cast, then one division.
        x = images.astype(dtype)
        x /= dtype.type(raw_max)
    else:
        x = images.copy()
    x = x.reshape(n, h * w) if flatten else x.reshape(n, 1, h, w)
    t = _one_hot(labels, dtype) if one_hot_label else labels.astype(np.int64, copy=True)
    return np.ascontiguousarray(x), t


# ----------------------------------------------------------------------------- digits

def load_digits(*, normalize=True, flatten=True, one_hot_label=False, test_size=0.2, seed=0,
                dtype=np.float32):
    """Load scikit-learn's bundled 8x8 handwritten digits, split into train and test sets.

    The data are the 1797 real images of ``sklearn.datasets.load_digits()``
    (UCI optical recognition of handwritten digits), which ship inside the
    scikit-learn package, so this works offline. Pixel values are integers
    0..16. The split is stratified: for each class, ``round(test_size * n_class)``
    of its images (at least one, and at least one left for training) go to
    the test set, drawn with ``numpy.random.default_rng(seed)``; both sets
    are then shuffled. The same arguments always give the same arrays.

    Parameters
    ----------
    normalize : bool, default True
        If True, images are ``dtype`` with values ``pixel / 16`` in [0, 1];
        if False, the raw values 0..16 as ``uint8``.
    flatten : bool, default True
        If True, images have shape ``(N, 64)``; if False, ``(N, 1, 8, 8)``.
    one_hot_label : bool, default False
        If True, labels are one-hot rows of shape ``(N, 10)`` and dtype
        ``dtype``; if False, ``int64`` class indices of shape ``(N,)``.
    test_size : float, default 0.2
        Fraction of each class held out for the test set, in (0, 1).
    seed : int, default 0
        Seed of the split (a non-negative int).
    dtype : {numpy.float32, numpy.float64}, default numpy.float32
        Floating dtype of normalized images and of one-hot labels.

    Returns
    -------
    (x_train, t_train), (x_test, t_test) : tuple of tuple of numpy.ndarray
        With the default ``test_size=0.2``: 1438 training and 359 test images.

    Raises
    ------
    ImportError
        If scikit-learn is not installed; install it with
        ``pip install "fastopt[data]"``.
    TypeError, ValueError
        For an argument of the wrong type or value; the message names it.

    Examples
    --------
    >>> (x_train, t_train), (x_test, t_test) = load_digits()  # doctest: +SKIP
    >>> x_train.shape, x_train.dtype, t_train.dtype           # doctest: +SKIP
    ((1438, 64), dtype('float32'), dtype('int64'))
    """
    normalize, flatten, one_hot_label, dtype = _check_loader_flags(normalize, flatten,
                                                                   one_hot_label, dtype)
    test_size = _check_fraction("test_size", test_size)
    seed = _check_seed(seed)
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as exc:
        raise ImportError("fastopt.data.load_digits needs scikit-learn, an optional dependency: "
                          f"{_INSTALL_HINT}  (or: pip install scikit-learn)") from exc

    bunch = _sk_load_digits()
    images = np.asarray(bunch.images)
    labels = np.asarray(bunch.target).astype(np.int64)
    if images.ndim != 3 or images.shape[0] != labels.shape[0] or images.min() < 0 or images.max() > 16:
        raise RuntimeError(f"unexpected data from sklearn.datasets.load_digits(): images "
                           f"{images.shape}, labels {labels.shape}")
    images = images.astype(np.uint8)

    train_idx, test_idx = _stratified_indices(labels, test_size, np.random.default_rng(seed))
    train = _format(images[train_idx], labels[train_idx], 16, normalize, flatten, one_hot_label, dtype)
    test = _format(images[test_idx], labels[test_idx], 16, normalize, flatten, one_hot_label, dtype)
    return train, test


def _stratified_indices(labels, test_size, rng):
    """Per class, round(test_size * n_c) test indices (clamped to 1..n_c - 1); both sets shuffled."""
    train_parts, test_parts = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(np.floor(test_size * idx.size + 0.5))
        if idx.size >= 2:
            n_test = min(max(n_test, 1), idx.size - 1)
        test_parts.append(idx[:n_test])
        train_parts.append(idx[n_test:])
    train_idx = rng.permutation(np.concatenate(train_parts))
    test_idx = rng.permutation(np.concatenate(test_parts))
    return train_idx, test_idx


# ----------------------------------------------------------------------------- MNIST

def load_mnist(path, *, normalize=True, flatten=True, one_hot_label=False, dtype=np.float32):
    """Load MNIST from the four standard IDX files in a local directory.

    Semantics follow the book's ``dataset/mnist.py`` (``load_mnist``), except
    that the files are never downloaded and no pickle cache is read or
    written: the IDX files are parsed directly on each call. The directory
    must hold::

        train-images-idx3-ubyte.gz   train-labels-idx1-ubyte.gz
        t10k-images-idx3-ubyte.gz    t10k-labels-idx1-ubyte.gz

    Each may instead be present uncompressed, under the same name without
    ``.gz`` (the ``.gz`` name is used when both exist). Whether a file is
    gzipped is decided from its content, not its name.

    Parameters
    ----------
    path : str or os.PathLike
        Directory holding the IDX files.
    normalize : bool, default True
        If True, images are ``dtype`` in [0, 1], computed as the book does:
        cast to ``dtype``, then divide by 255. If False, the raw ``uint8``
        pixels 0..255.
    flatten : bool, default True
        If True, images have shape ``(N, 784)``; if False, ``(N, 1, 28, 28)``.
    one_hot_label : bool, default False
        If True, labels are one-hot rows of shape ``(N, 10)`` and dtype
        ``dtype``; if False, ``int64`` class indices of shape ``(N,)`` (the
        book returns ``uint8`` indices; ``int64`` is safer in arithmetic).
    dtype : {numpy.float32, numpy.float64}, default numpy.float32
        Floating dtype of normalized images and of one-hot labels.

    Returns
    -------
    (x_train, t_train), (x_test, t_test) : tuple of tuple of numpy.ndarray
        60000 training and 10000 test images for the real data set.

    Raises
    ------
    FileNotFoundError
        If any of the four files is missing; the message lists the missing
        files and the absolute directory they must be put in.
    NotADirectoryError
        If ``path`` exists but is not a directory.
    ValueError
        If a file is corrupt: bad gzip stream, wrong magic number, payload
        shorter or longer than its header says, labels outside 0..9, or image
        and label counts that disagree. The message names the file.
    TypeError
        For an argument of the wrong type; the message names it.

    Examples
    --------
    >>> (x_train, t_train), (x_test, t_test) = load_mnist("~/data/mnist")  # doctest: +SKIP
    >>> x_train.shape, t_train.shape                                       # doctest: +SKIP
    ((60000, 784), (60000,))
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike directory, got {type(path).__name__}")
    normalize, flatten, one_hot_label, dtype = _check_loader_flags(normalize, flatten,
                                                                   one_hot_label, dtype)
    directory = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise NotADirectoryError(f"path must be a directory holding the MNIST IDX files, "
                                 f"got the file {directory}")

    files, missing = {}, []
    for role, gz_name in MNIST_FILES.items():
        plain_name = gz_name[:-len(".gz")]
        for name in (gz_name, plain_name):
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                files[role] = candidate
                break
        else:
            missing.append(gz_name)
    if missing:
        raise FileNotFoundError(
            f"MNIST: {len(missing)} of the 4 IDX files missing: {', '.join(missing)}. "
            f"Put them in {directory} (the uncompressed names without .gz are accepted too). "
            "fastopt never downloads data; get the files yourself and pass their directory as path.")

    sets = []
    for kind in ("train", "test"):
        images = _read_idx(files[f"{kind}_img"], _IDX_IMAGES_MAGIC)
        labels = _read_idx(files[f"{kind}_label"], _IDX_LABELS_MAGIC)
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{files[f'{kind}_img']} holds {images.shape[0]} images but "
                             f"{files[f'{kind}_label']} holds {labels.shape[0]} labels")
        if labels.size and labels.max() >= NUM_CLASSES:
            raise ValueError(f"{files[f'{kind}_label']}: labels must be 0..9, found {int(labels.max())}")
        sets.append((images, labels.astype(np.int64)))
    if sets[0][0].shape[1:] != sets[1][0].shape[1:]:
        raise ValueError(f"training images are {sets[0][0].shape[1]}x{sets[0][0].shape[2]} but test "
                         f"images are {sets[1][0].shape[1]}x{sets[1][0].shape[2]} "
                         f"({files['train_img']}, {files['test_img']})")
    return tuple(_format(images, labels, 255, normalize, flatten, one_hot_label, dtype)
                 for images, labels in sets)


#: Most bytes a deflate stream can expand one byte into (zlib's bound is 1032:1).
_GZIP_MAX_RATIO = 1032


def _read_idx(filename, magic):
    """Parse one IDX file of unsigned bytes; returns a uint8 array of the header's shape.

    The header is read first and checked (magic number, dimensions against the
    file's size); only then is the payload read, straight into an array of the
    declared size. A gzipped file is inflated as it is read, so a corrupt or
    hostile file costs no more memory than its header justifies.
    """
    try:
        with open_regular_file(filename, filename) as raw:
            size = os.fstat(raw.fileno()).st_size
            gzipped = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            if not gzipped:
                return _read_idx_stream(raw, filename, magic, size, exact=True)
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                return _read_idx_stream(f, filename, magic, size * _GZIP_MAX_RATIO, exact=False)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ValueError(f"{filename}: corrupt or truncated gzip stream ({exc})") from None
    except OSError as exc:
        raise OSError(f"cannot read {filename}: {exc}") from exc


def _read_exactly(f, n):
    """Up to *n* bytes from *f* (fewer only at the end of the stream)."""
    parts, left = [], n
    while left:
        part = f.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _read_idx_stream(f, filename, magic, limit, exact):
    """Header, then payload, of an IDX stream *f* holding at most *limit* bytes."""
    ndim = magic & 0xFF
    header_size = 4 + 4 * ndim
    head = _read_exactly(f, header_size)
    if len(head) < 4:
        raise ValueError(f"{filename}: truncated: {len(head)} bytes, too short for an IDX header")
    (found,) = struct.unpack(">I", head[:4])
    if found != magic:
        raise ValueError(f"{filename}: bad magic number 0x{found:08X}, expected 0x{magic:08X} "
                         f"({'images' if magic == _IDX_IMAGES_MAGIC else 'labels'}, IDX unsigned byte)")
    if len(head) < header_size:
        raise ValueError(f"{filename}: truncated header: {len(head)} bytes, the {ndim}-d IDX header "
                         f"needs {header_size}")
    dims = struct.unpack(f">{ndim}I", head[4:])
    shown = "x".join(map(str, dims))
    expected = math.prod(dims)  # exact: no int64 wrap-around
    room = limit - header_size
    if exact and expected > room:
        raise ValueError(f"{filename}: truncated: the header says {shown} = {expected} bytes of "
                         f"data, found {room}")
    if exact and expected < room:
        raise ValueError(f"{filename}: {room - expected} unexpected bytes after the {shown} data "
                         "declared by the header")
    if expected > room:
        raise ValueError(f"{filename}: the header says {shown} = {expected} bytes of data, more "
                         f"than a gzip file of {limit // _GZIP_MAX_RATIO} bytes can hold")
    data = np.empty(expected, dtype=np.uint8)
    view, done = memoryview(data), 0
    while done < expected:
        n = f.readinto(view[done:done + 2**20])
        if not n:
            raise ValueError(f"{filename}: truncated: the header says {shown} = {expected} bytes "
                             f"of data, found {done}")
        done += n
    extra = len(f.read(2**16))
    if extra:
        raise ValueError(f"{filename}: {'at least ' if extra == 2**16 else ''}{extra} unexpected "
                         f"bytes after the {shown} data declared by the header")
    return data.reshape(dims)


# ----------------------------------------------------------------------------- validation split

def train_val_split(x, t, val_fraction=0.2, seed=0):
    """Hold out a shuffled validation set, as the book's hyperparameter search does.

    The samples are shuffled with ``numpy.random.default_rng(seed)``; the
    first ``int(len(x) * val_fraction)`` become the validation set and the
    rest the training set (the book: ``validation_num = int(x_train.shape[0]
    * 0.20)`` after ``shuffle_dataset``). Sample ``i`` of ``x`` stays paired
    with sample ``i`` of ``t``.

    Parameters
    ----------
    x : numpy.ndarray
        Inputs, samples along the first axis.
    t : numpy.ndarray
        Labels (indices or one-hot), samples along the first axis; as many
        as ``x``.
    val_fraction : float, default 0.2
        Fraction held out for validation, in (0, 1); ``int(len(x) *
        val_fraction)`` must be at least 1.
    seed : int, default 0
        Seed of the shuffle (a non-negative int).

    Returns
    -------
    (x_train, t_train), (x_val, t_val) : tuple of tuple of numpy.ndarray
        New arrays (copies), dtypes and trailing shapes as in ``x`` and ``t``.

    Raises
    ------
    TypeError, ValueError
        For an argument of the wrong type or value; the message names it.

    Examples
    --------
    >>> import numpy as np
    >>> x, t = np.arange(20.0).reshape(10, 2), np.arange(10)
    >>> (x_tr, t_tr), (x_val, t_val) = train_val_split(x, t, val_fraction=0.2, seed=0)
    >>> x_tr.shape, x_val.shape
    ((8, 2), (2, 2))
    >>> bool(np.all(x_val[:, 0] == 2 * t_val))
    True
    """
    for name, a in (("x", x), ("t", t)):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
        if a.ndim == 0:
            raise ValueError(f"{name} must have a sample axis, got a 0-d array")
    if x.shape[0] != t.shape[0]:
        raise ValueError(f"x and t must hold as many samples, got {x.shape[0]} and {t.shape[0]}")
    val_fraction = _check_fraction("val_fraction", val_fraction)
    seed = _check_seed(seed)
    n = x.shape[0]
    n_val = int(n * val_fraction)
    if n_val == 0:  # n_val < n always, since val_fraction < 1
        raise ValueError(f"val_fraction={val_fraction} of {n} samples leaves an empty validation set")
    perm = np.random.default_rng(seed).permutation(n)
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    return (x[train_idx], t[train_idx]), (x[val_idx], t[val_idx])
