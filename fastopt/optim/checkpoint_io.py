"""A small, pickle-free ``.npz`` file format for nested state trees.

A *tree* is a nested dict with ``str`` keys whose leaves are NumPy arrays
(bool or numeric dtype, any shape, 0-d included) or JSON values (``None``,
bool, int, float, str, and lists / str-keyed dicts of those -- no arrays inside
lists). :func:`write_tree` stores it as one ordinary ``.npz`` (zip) file:

* each array is the member ``<flat key>.npy``. The flat key is the key path
  joined by ``/``; in every key ``%``, ``/``, ``\\`` and ASCII control
  characters are percent-escaped (``%25``, ``%2F``, ``%5C``, ``%00``...), and a
  top-level key equal to ``__fastopt_meta__`` is written ``%5F_fastopt_meta__``
  so it cannot collide with the metadata entry. The mapping is one-to-one and
  is undone by percent-decoding each ``/``-separated part.
* ``__fastopt_meta__.npy`` is a 1-D uint8 array holding UTF-8 JSON::

      {"format": "fastopt-checkpoint", "format_version": 1,
       "tree": <the tree with every array replaced by null>,
       "arrays": [{"key": flat key, "path": [key, ...],
                   "dtype": dtype.str (e.g. "<f4"), "shape": [...]}, ...]}

  The ``null`` placeholders keep the key order; ``"arrays"`` says which of them
  are arrays.

Nothing is pickled: arrays are written with ``allow_pickle=False`` and object
arrays are refused. :func:`read_tree` checks the whole file against the
metadata and raises ValueError on anything unexpected.
"""
import contextlib
import json
import math
import os
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["write_tree", "read_tree", "FORMAT_NAME", "FORMAT_VERSION", "META_KEY"]

FORMAT_NAME = "fastopt-checkpoint"
FORMAT_VERSION = 1
META_KEY = "__fastopt_meta__"
_ARRAY_KINDS = "biufc"  # bool, signed, unsigned, float, complex
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: same tree, same bytes
_NPY = np.lib.format


class _Invalid(Exception):
    """Internal: the file is not a valid checkpoint (becomes ValueError)."""


# ------------------------------------------------------------------ key paths
def _escape(segment):
    return "".join(f"%{ord(c):02X}" if c in "%/\\" or ord(c) < 0x20 or ord(c) == 0x7F else c
                   for c in segment)


def _flat_key(path):
    key = "/".join(_escape(s) for s in path)
    return "%5F" + key[1:] if key == META_KEY else key


def _where(path):
    return "".join(f"[{k!r}]" for k in path) or "<root>"


# ---------------------------------------------------------------------- write
def _check_key(key, path):
    if not isinstance(key, str):
        raise TypeError(f"key {key!r} at {_where(path)} is {type(key).__name__}, keys must be str")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"key {key!r} at {_where(path)} is not valid Unicode") from None


def _check_json(value, path):
    """Raise TypeError unless *value* (no arrays) round-trips through JSON."""
    if isinstance(value, str):
        _check_key(value, path)  # same rule: must be encodable as UTF-8
        return
    if value is None or isinstance(value, (bool, int, float)):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, path + (i,))
    elif isinstance(value, dict):
        for k, item in value.items():
            _check_key(k, path)
            _check_json(item, path + (k,))
    elif isinstance(value, np.ndarray):
        raise TypeError(f"array at {_where(path)}: lists may not contain arrays")
    else:
        hint = " (use a list)" if isinstance(value, tuple) else \
            " (use a Python scalar or a 0-d array)" if isinstance(value, np.generic) else ""
        raise TypeError(f"value at {_where(path)} has unsupported type "
                        f"{type(value).__name__}{hint}")


def _split(node, path, arrays):
    """Validate the tree; return its JSON skeleton, collecting arrays."""
    skeleton = {}
    for key, value in node.items():
        _check_key(key, path)
        here = path + (key,)
        if isinstance(value, dict):
            skeleton[key] = _split(value, here, arrays)
        elif isinstance(value, np.ndarray):
            if np.ma.isMaskedArray(value):
                raise TypeError(f"masked array at {_where(here)} is not supported")
            if value.dtype.kind not in _ARRAY_KINDS:
                raise TypeError(f"array at {_where(here)} has dtype {value.dtype}; only bool and "
                                f"numeric dtypes are supported (object arrays would need pickle)")
            arrays.append((here, np.asarray(value)))
            skeleton[key] = None
        else:
            _check_json(value, here)
            skeleton[key] = value
    return skeleton


def _write_member(zf, name, array):
    info = zipfile.ZipInfo(name + ".npy", date_time=_ZIP_EPOCH)
    info.compress_type = zf.compression
    with zf.open(info, "w", force_zip64=True) as fh:
        _NPY.write_array(fh, array, allow_pickle=False)


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_tree(path, tree, *, compress=False):
    """Write a nested tree of arrays and JSON values to one ``.npz`` file, atomically.

    Parameters
    ----------
    path : str or path-like
        Destination; ``.npz`` is appended if the name does not end with it.
    tree : dict
        Nested dict with str keys. Leaves: ndarrays of bool/numeric dtype, or
        JSON values (None, bool, int, float, str, lists and str-keyed dicts
        of those). Tuples and NumPy scalars are refused, not converted.
    compress : bool, default False
        Deflate the zip members (smaller, slower).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    TypeError
        A non-str key, an object/string/structured array, an array inside a
        list, or another non-JSON value; the message names the key path.
        Nothing is written.

    Notes
    -----
    The data goes to a temporary file in the destination directory, which is
    flushed and fsynced and then renamed over *path* with :func:`os.replace`.
    On any error the temporary file is removed and an existing *path* is left
    as it was. The file is created with mode 0o600 (as by :func:`tempfile.mkstemp`).
    """
    if not isinstance(tree, dict):
        raise TypeError(f"tree must be a dict, got {type(tree).__name__}")
    arrays = []
    skeleton = _split(tree, (), arrays)
    entries = [{"key": _flat_key(p), "path": list(p), "dtype": a.dtype.str, "shape": list(a.shape)}
               for p, a in arrays]
    meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
            "tree": skeleton, "arrays": entries}
    meta_bytes = json.dumps(meta, ensure_ascii=False, allow_nan=True).encode("utf-8")

    target = Path(os.fspath(path))
    if not target.name.endswith(".npz"):
        target = target.with_name(target.name + ".npz")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            with zipfile.ZipFile(fh, "w", compression=mode, allowZip64=True) as zf:
                _write_member(zf, META_KEY, np.frombuffer(meta_bytes, dtype=np.uint8))
                for entry, (_, array) in zip(entries, arrays):
                    _write_member(zf, entry["key"], array)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)
    return target


# ----------------------------------------------------------------------- read
def _require(condition, reason):
    if not condition:
        raise _Invalid(reason)


def _read_member(zf, key, dtype_str, shape):
    """Read ``key.npy`` after checking its header against *dtype_str* and *shape*.

    The header is checked (and the member size against it) before any data is
    read, so a forged header cannot trigger a huge allocation.
    """
    name = key + ".npy"
    with zf.open(name) as fh:
        version = _NPY.read_magic(fh)
        _require(version in ((1, 0), (2, 0)), f"{name!r}: unsupported .npy version {version}")
        read_header = _NPY.read_array_header_1_0 if version == (1, 0) else _NPY.read_array_header_2_0
        got_shape, _, dtype = read_header(fh)
        _require(dtype.kind in _ARRAY_KINDS, f"{name!r}: unsupported dtype {dtype}")
        _require(dtype.str == dtype_str, f"array {key!r}: stored dtype {dtype.str!r} does not "
                                         f"match the metadata ({dtype_str!r})")
        if shape is None:  # the metadata itself: any 1-D length
            _require(len(got_shape) == 1, f"{name!r} is not 1-D")
        else:
            _require(list(got_shape) == shape, f"array {key!r}: stored shape {list(got_shape)} "
                                               f"does not match the metadata ({shape})")
        size = fh.tell() + math.prod(got_shape) * dtype.itemsize  # exact, no overflow
        _require(size == zf.getinfo(name).file_size,
                 f"{name!r}: member size does not match its header")
    with zf.open(name) as fh:
        array = _NPY.read_array(fh, allow_pickle=False)
        _require(fh.read(1) == b"", f"{name!r}: trailing data")  # also ends the CRC check
    return array


def _check_meta(meta):
    _require(isinstance(meta, dict) and meta.get("format") == FORMAT_NAME,
             f"metadata has no \"format\": {FORMAT_NAME!r} (not a fastopt checkpoint)")
    version = meta.get("format_version")
    _require(type(version) is int and version >= 1, f"bad format_version {version!r}")
    _require(version <= FORMAT_VERSION, f"format_version {version} is newer than the supported "
                                        f"version {FORMAT_VERSION}; upgrade fastopt to read it")
    _require(isinstance(meta.get("tree"), dict), "metadata \"tree\" is not an object")
    entries = meta.get("arrays")
    _require(isinstance(entries, list), "metadata \"arrays\" is not a list")
    for e in entries:
        _require(isinstance(e, dict) and set(e) == {"key", "path", "dtype", "shape"}
                 and isinstance(e["path"], list) and e["path"]
                 and all(isinstance(s, str) for s in e["path"])
                 and isinstance(e["dtype"], str) and isinstance(e["shape"], list)
                 and all(type(n) is int and n >= 0 for n in e["shape"])
                 and e["key"] == _flat_key(e["path"]), f"malformed array entry {e!r}")
    return entries


def _read(fh):
    magic = fh.read(4)
    _require(magic, "the file is empty")
    _require(magic in (b"PK\x03\x04", b"PK\x05\x06"), "not a zip/.npz archive")
    fh.seek(0)
    with np.load(fh, allow_pickle=False) as npz:
        zf = npz.zip
        names = zf.namelist()
        _require(len(names) == len(set(names)), "duplicate archive members")
        _require(META_KEY + ".npy" in names,
                 f"no {META_KEY!r} entry (not a fastopt checkpoint; a plain .npz file?)")
        raw = _read_member(zf, META_KEY, "|u1", None)
        try:
            meta = json.loads(raw.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise _Invalid(f"metadata is not valid UTF-8 JSON ({exc})") from None
        entries = _check_meta(meta)
        listed = {e["key"] + ".npy" for e in entries}
        _require(len(listed) == len(entries), "metadata lists an array twice")
        missing = sorted(n[:-4] for n in listed - set(names))
        _require(not missing, f"array(s) listed in the metadata are missing: {missing}")
        extra = sorted(set(names) - listed - {META_KEY + ".npy"})
        _require(not extra, f"unlisted archive member(s): {extra}")
        tree = meta["tree"]
        for e in entries:
            node = tree
            for part in e["path"][:-1]:
                node = node.get(part) if isinstance(node, dict) else None
            _require(isinstance(node, dict) and e["path"][-1] in node
                     and node[e["path"][-1]] is None,
                     f"metadata tree has no null slot for array {e['key']!r}")
            node[e["path"][-1]] = _read_member(zf, e["key"], e["dtype"], e["shape"])
    return tree


_CORRUPT = (_Invalid, zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError,
            struct.error, NotImplementedError, RuntimeError, OverflowError)


def read_tree(path):
    """Read a tree written by :func:`write_tree`, verifying it against its metadata.

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` file (used exactly as given; no suffix is added).

    Returns
    -------
    dict
        The nested tree. Arrays are new in-memory ndarrays with the recorded
        dtype and shape; the file is closed on return.

    Raises
    ------
    FileNotFoundError
        *path* does not exist.
    ValueError
        ``"<path> is not a valid fastopt checkpoint: <reason>"`` -- the file is
        empty, truncated or not a zip; it has no ``__fastopt_meta__`` entry (a
        plain ``.npz``); the metadata is not valid JSON, has the wrong format
        name or a newer ``format_version``; or an array is missing, unlisted,
        or has a dtype/shape other than recorded. Nothing is unpickled.
    """
    path = Path(os.fspath(path))
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        hint = f" (did you mean {path.name}.npz?)" if path.with_name(path.name + ".npz").exists() \
            else ""
        raise FileNotFoundError(2, f"fastopt checkpoint {str(path)!r} does not exist{hint}",
                                str(path)) from None
    with fh:
        try:
            return _read(fh)
        except _CORRUPT as exc:
            reason = str(exc) if isinstance(exc, _Invalid) else f"{type(exc).__name__}: {exc}"
            raise ValueError(f"{path} is not a valid fastopt checkpoint: {reason}") from (
                None if isinstance(exc, _Invalid) else exc)
