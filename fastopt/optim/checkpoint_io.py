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

Reading is bounded in memory: the metadata member is read only if it declares
at most :data:`MAX_META_BYTES` and holds at most :data:`MAX_META_CONTAINERS`
JSON arrays/objects; every array's size is known from the metadata (checked
against its ``.npy`` header and its zip entry) before any of its data is
inflated, and a ``check`` callback can refuse the file from that skeleton.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import struct
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from .._validate import open_regular_file

__all__ = ["write_tree", "read_tree", "FORMAT_NAME", "FORMAT_VERSION", "META_KEY"]

FORMAT_NAME = "fastopt-checkpoint"
FORMAT_VERSION = 1
META_KEY = "__fastopt_meta__"
_ARRAY_KINDS = "biufc"  # bool, signed, unsigned, float, complex
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: same tree, same bytes
_NPY = np.lib.format

#: Largest metadata member (declared, uncompressed) :func:`read_tree` reads.
MAX_META_BYTES = 16 * 2**20
#: Most JSON arrays + objects the metadata may hold (bounds the parsed size).
MAX_META_CONTAINERS = 2**16


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


def _temp_prefix(target, pid):
    return f".{target.name}.{pid}."


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, owned by someone else
        return True
    return True


def _remove_stale_temporaries(target):
    """Delete temporary files of saves to *target* by processes that no longer run.

    Only names ``.<target name>.<pid>.<random>.tmp`` are considered, and only
    on POSIX (where ``os.kill(pid, 0)`` probes a process without touching it).
    """
    if os.name != "posix":
        return
    pattern = re.compile(re.escape(f".{target.name}.") + r"([0-9]{1,9})\.[a-z0-9_]+\.tmp")
    try:
        names = os.listdir(target.parent)
    except OSError:
        return
    for name in names:
        match = pattern.fullmatch(name)
        if match is None or int(match[1]) == os.getpid() or _pid_alive(int(match[1])):
            continue
        with contextlib.suppress(OSError):
            os.unlink(target.parent / name)


def write_tree(path: Union[str, "os.PathLike[str]"], tree: Mapping[str, Any], *,
               compress: bool = False) -> Path:
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
    The temporary file is named ``.<name>.<pid>.<random>.tmp``; a process
    killed while saving leaves it behind, and the next save to the same
    *path* (on POSIX) removes those whose process no longer runs.
    """
    if not isinstance(tree, dict):
        raise TypeError(f"tree must be a dict, got {type(tree).__name__}")
    arrays: List[Tuple[Tuple[Any, ...], np.ndarray]] = []
    skeleton = _split(tree, (), arrays)
    entries = [{"key": _flat_key(p), "path": list(p), "dtype": a.dtype.str, "shape": list(a.shape)}
               for p, a in arrays]
    meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
            "tree": skeleton, "arrays": entries}
    meta_bytes = json.dumps(meta, ensure_ascii=False, allow_nan=True).encode("utf-8")

    target = Path(os.fspath(path))
    if not target.name.endswith(".npz"):
        target = target.with_name(target.name + ".npz")
    _remove_stale_temporaries(target)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target, os.getpid()), suffix=".tmp",
                               dir=target.parent)
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


def _open_member(zf, key, dtype_str, shape):
    """Open ``key.npy`` and check its header against *dtype_str* and *shape*.

    Returns ``(file, dtype, shape)`` positioned at the data. The member's
    declared size must equal what the header says, so no more than that is
    ever inflated.
    """
    name = key + ".npy"
    fh = zf.open(name)
    try:
        version = _NPY.read_magic(fh)
        _require(version in ((1, 0), (2, 0)), f"{name!r}: unsupported .npy version {version}")
        read_header = _NPY.read_array_header_1_0 if version == (1, 0) else _NPY.read_array_header_2_0
        got_shape, fortran, dtype = read_header(fh)
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
    except BaseException:
        fh.close()
        raise
    return fh, dtype, tuple(got_shape), fortran


def _read_member(zf, key, dtype_str, shape):
    """Read ``key.npy`` (header checked first) into a new array."""
    fh, dtype, shape, fortran = _open_member(zf, key, dtype_str, shape)
    with fh:
        array = np.empty(shape, dtype, order="F" if fortran else "C")
        flat = array.reshape(-1, order="A").view(np.uint8)  # a view either way
        _readinto(fh, flat, key + ".npy")
        _require(fh.read(1) == b"", f"{key + '.npy'!r}: trailing data")  # also ends the CRC check
    return array


def _readinto(fh, buffer, name, chunk=2**20):
    """Fill the uint8 *buffer* from *fh* in chunks; a short member is an error."""
    view, done = memoryview(buffer), 0
    while done < len(view):
        n = fh.readinto(view[done:done + chunk])
        _require(n, f"{name!r}: truncated data")
        done += n


def _read_meta(zf, max_bytes):
    """The metadata's JSON, parsed, after checking its declared size and nesting."""
    name = META_KEY + ".npy"
    size = zf.getinfo(name).file_size
    _require(size <= max_bytes, f"{name!r} declares {size} bytes, more than the "
                                f"{max_bytes} bytes metadata may have (checkpoint_io.MAX_META_BYTES)")
    raw = _read_member(zf, META_KEY, "|u1", None).tobytes()
    containers = raw.count(b"[") + raw.count(b"{")
    _require(containers <= MAX_META_CONTAINERS,
             f"metadata has {containers} JSON arrays/objects, more than "
             f"{MAX_META_CONTAINERS} (checkpoint_io.MAX_META_CONTAINERS)")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _Invalid(f"metadata is not valid UTF-8 JSON ({exc})") from None


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


def _placeholder(dtype_str, shape, key, budget):
    """A zero-memory stand-in of the array *key*: its dtype and shape, all zeros, read-only."""
    try:
        dtype = np.dtype(dtype_str)
    except TypeError:
        raise _Invalid(f"array {key!r}: {dtype_str!r} is not a dtype") from None
    _require(dtype.kind in _ARRAY_KINDS and dtype.str == dtype_str,
             f"{key + '.npy'!r}: unsupported dtype {dtype} ({dtype_str!r})")
    nbytes = math.prod(shape) * dtype.itemsize
    _require(nbytes <= sys.maxsize, f"array {key!r} declares {nbytes} bytes, more than any "
                                    "array can hold")
    _require(budget is None or nbytes <= budget,
             f"array {key!r} declares {nbytes} bytes, more than the {budget} bytes allowed")
    return np.broadcast_to(np.zeros((), dtype), shape)


def _read(fh, max_bytes, max_meta_bytes, check):
    magic = fh.read(4)
    _require(magic, "the file is empty")
    _require(magic in (b"PK\x03\x04", b"PK\x05\x06"), "not a zip/.npz archive")
    fh.seek(0)
    with zipfile.ZipFile(fh) as zf:
        names = zf.namelist()
        _require(len(names) == len(set(names)), "duplicate archive members")
        _require(META_KEY + ".npy" in names,
                 f"no {META_KEY!r} entry (not a fastopt checkpoint; a plain .npz file?)")
        meta = _read_meta(zf, max_meta_bytes)
        entries = _check_meta(meta)
        listed = {e["key"] + ".npy" for e in entries}
        _require(len(listed) == len(entries), "metadata lists an array twice")
        missing = sorted(n[:-4] for n in listed - set(names))
        _require(not missing, f"array(s) listed in the metadata are missing: {missing}")
        extra = sorted(set(names) - listed - {META_KEY + ".npy"})
        _require(not extra, f"unlisted archive member(s): {extra}")
        tree, slots = meta["tree"], []
        for e in entries:
            node = tree
            for part in e["path"][:-1]:
                node = node.get(part) if isinstance(node, dict) else None
            _require(isinstance(node, dict) and e["path"][-1] in node
                     and node[e["path"][-1]] is None,
                     f"metadata tree has no null slot for array {e['key']!r}")
            node[e["path"][-1]] = _placeholder(e["dtype"], e["shape"], e["key"], max_bytes)
            slots.append((node, e))
        total = sum(node[e["path"][-1]].nbytes for node, e in slots)
        _require(max_bytes is None or total <= max_bytes,
                 f"the arrays declare {total} bytes in all, more than the {max_bytes} bytes allowed")
        if check is not None:
            try:
                check(tree)  # may refuse the file before any array is inflated
            except Exception as exc:
                raise _Refused(exc) from None
        for node, e in slots:
            node[e["path"][-1]] = _read_member(zf, e["key"], e["dtype"], e["shape"])
    return tree


class _Refused(Exception):
    """Internal: carries the exception of a ``check`` callback out of the reader unchanged."""


_CORRUPT = (_Invalid, zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError,
            struct.error, NotImplementedError, RuntimeError, OverflowError, MemoryError)


def read_tree(path: Union[str, "os.PathLike[str]"], *, max_bytes: Optional[int] = None,
              max_meta_bytes: Optional[int] = None,
              check: Optional[Callable[[Dict[str, Any]], Any]] = None) -> Dict[str, Any]:
    """Read a tree written by :func:`write_tree`, verifying it against its metadata.

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` file (used exactly as given; no suffix is added). It must
        be a regular file: a FIFO, device or directory is refused without
        reading from it.
    max_bytes : int, optional
        Refuse the file if its arrays declare more bytes than this in all
        (checked before any array data is inflated). Default: no limit.
    max_meta_bytes : int, optional
        Refuse metadata that declares more bytes than this; default
        :data:`MAX_META_BYTES` (16 MiB).
    check : callable, optional
        Called as ``check(skeleton)`` after the metadata has been validated and
        before any array is read: *skeleton* is the tree with each array
        replaced by a read-only, zero-strided array of its dtype and shape
        (no memory). It may raise (ValueError, TypeError) to refuse the file;
        its exception propagates unchanged.

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
        empty, truncated, not a regular file or not a zip; it has no
        ``__fastopt_meta__`` entry (a plain ``.npz``); the metadata is not
        valid JSON, is too large, has the wrong format name or a newer
        ``format_version``; an array is missing, unlisted, has a dtype/shape
        other than recorded, or the arrays exceed *max_bytes*. The reason
        names the member. Nothing is unpickled.

    Notes
    -----
    Memory: the metadata is read only if it declares at most
    *max_meta_bytes* and holds at most :data:`MAX_META_CONTAINERS` JSON
    arrays/objects; each array is inflated straight into an array of its
    declared size, so reading takes about the declared size of the arrays
    plus a few times the metadata's size.
    """
    path = Path(os.fspath(path))
    max_meta_bytes = MAX_META_BYTES if max_meta_bytes is None else max_meta_bytes
    try:
        fh = open_regular_file(path, f"{path} is not a valid fastopt checkpoint")
    except FileNotFoundError:
        hint = f" (did you mean {path.name}.npz?)" if path.with_name(path.name + ".npz").exists() \
            else ""
        raise FileNotFoundError(2, f"fastopt checkpoint {str(path)!r} does not exist{hint}",
                                str(path)) from None
    with fh:
        try:
            return _read(fh, max_bytes, max_meta_bytes, check)
        except _Refused as refused:
            raise refused.args[0] from None
        except _CORRUPT as exc:
            reason = str(exc) if isinstance(exc, _Invalid) else f"{type(exc).__name__}: {exc}"
            raise ValueError(f"{path} is not a valid fastopt checkpoint: {reason}") from (
                None if isinstance(exc, _Invalid) else exc)
