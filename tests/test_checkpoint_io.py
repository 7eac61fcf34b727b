"""Tests for fastopt.optim.checkpoint_io: the pickle-free .npz tree format."""
import io
import json
import math
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastopt.optim import checkpoint_io
from fastopt.optim.checkpoint_io import read_tree, write_tree

META = "__fastopt_meta__"


# ----------------------------------------------------------------- helpers
def assert_same(a, b, where="<root>"):
    """Equal trees: same key order, bit-identical arrays, same JSON types and values."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.dtype.str == b.dtype.str, where
        assert a.shape == b.shape, where
        assert a.tobytes(order="A") == b.tobytes(order="A"), where
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


def sample_tree():
    return {
        "optimizer": "Adam",
        "format_version": 3,
        "hyper": {"lr": 1e-7, "betas": [0.9, 0.999], "eps": 5e-324, "big": 2**100,
                  "neg": -(2**63), "huge": 1.7976931348623157e308, "flag": True,
                  "none": None, "nested": [[1, [2, None]], [], {"k": "v"}],
                  "inf": math.inf, "nan": math.nan, "text": "η ∑ 🚀"},
        "state": {
            "w": {"m": np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
                  "v": np.array([1e-300, -0.0, np.nan, np.inf], dtype=np.float64)},
            "counts": np.array([-(2**63), 2**63 - 1, 0], dtype=np.int64),
            "mask": np.array([[True, False], [False, True]]),
            "step": np.array(7, dtype=np.int64),           # 0-d
            "scalar_f": np.array(np.float32(2.5)),          # 0-d float32
            "empty": np.zeros((0, 3), dtype=np.float32),    # empty
            "u8": np.arange(5, dtype=np.uint8),
            "c": np.array([1 + 2j], dtype=np.complex128),
        },
        "ключ/with/slash": {"100%": np.arange(3, dtype=np.int32), "a%2Fb": "literal"},
        "ünïcødé": {"名前": np.ones(2, dtype=np.float64)},
        "empty_dict": {},
        "": {"": np.array([1.0])},
    }


def write_npz(path, members):
    """Write a zip whose members ``name.npy`` are *members* (ndarrays or raw bytes)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, value in members.items():
            with zf.open(name + ".npy", "w") as fh:
                if isinstance(value, bytes):
                    fh.write(value)
                else:
                    np.lib.format.write_array(fh, value, allow_pickle=True)
    return path


def meta_array(meta):
    raw = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    return np.frombuffer(raw, dtype=np.uint8)


def load_members(path):
    """All members of a written checkpoint: (meta dict, {flat key: array})."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays.pop(META).tobytes().decode("utf-8"))
    return meta, arrays


def tamper(tmp_path, edit):
    """Write a valid checkpoint, let *edit(meta, arrays)* change it, re-zip it."""
    src = write_tree(tmp_path / "src.npz", {"p": {"w": np.arange(6, dtype=np.float32).reshape(2, 3)},
                                            "b": np.zeros(2), "step": 3})
    meta, arrays = load_members(src)
    edit(meta, arrays)
    members = {META: meta_array(meta), **arrays}   # an edit may override META in arrays
    return write_npz(tmp_path / "bad.npz", members)


# -------------------------------------------------------------- round trip
def test_round_trip_nested_tree(tmp_path):
    tree = sample_tree()
    out = write_tree(tmp_path / "ck.npz", tree)
    assert out == tmp_path / "ck.npz" and out.is_file()
    back = read_tree(out)
    assert_same(tree, back)
    for arr in (back["state"]["w"]["m"], back["state"]["step"], back["state"]["empty"]):
        assert arr.flags.writeable


def test_round_trip_returns_fresh_arrays_after_file_closed(tmp_path):
    out = write_tree(tmp_path / "ck", {"a": np.arange(4.0)})
    back = read_tree(out)
    os.remove(out)                      # works on every OS only if the file is closed
    back["a"][0] = 99.0                 # writable, in memory
    assert back["a"].tolist() == [99.0, 1.0, 2.0, 3.0]


def test_memory_layouts_and_byte_orders(tmp_path):
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    tree = {"fortran": np.asfortranarray(base), "strided": base[::2, ::3],
            "big_endian": base.astype(">f4"), "bool0d": np.array(True),
            "int16": np.array([-3, 4], dtype=np.int16), "f16": np.array([0.5], dtype=np.float16)}
    back = read_tree(write_tree(tmp_path / "ck", tree))
    for k, v in tree.items():
        np.testing.assert_array_equal(back[k], v)
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
    assert back["big_endian"].dtype.str == ">f4"
    assert back["fortran"].flags.f_contiguous


def test_suffix_added_like_savez_and_str_paths(tmp_path):
    assert write_tree(str(tmp_path / "a"), {"x": 1}) == tmp_path / "a.npz"
    assert write_tree(tmp_path / "b.npz", {"x": 1}) == tmp_path / "b.npz"
    assert write_tree(tmp_path / "c.ckpt", {"x": 1}) == tmp_path / "c.ckpt.npz"
    assert read_tree(str(tmp_path / "a.npz")) == {"x": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz", "c.ckpt.npz"]


def test_empty_tree_and_json_only_tree(tmp_path):
    assert read_tree(write_tree(tmp_path / "e", {})) == {}
    tree = {"a": {"b": {"c": [1, 2.5, "x", None, True]}}, "d": {}}
    assert_same(read_tree(write_tree(tmp_path / "j", tree)), tree)


def test_written_file_is_a_plain_pickle_free_npz(tmp_path):
    out = write_tree(tmp_path / "ck", sample_tree())
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert all(n.endswith(".npy") for n in names)
        for n in names:
            with zf.open(n) as fh:
                version = np.lib.format.read_magic(fh)
                assert version == (1, 0)
                _, _, dtype = np.lib.format.read_array_header_1_0(fh)
                assert not dtype.hasobject
    with np.load(out, allow_pickle=False) as npz:   # every member loads without pickle
        loaded = {k: npz[k] for k in npz.files}
    meta = json.loads(loaded[META].tobytes().decode("utf-8"))
    assert meta["format"] == "fastopt-checkpoint" and meta["format_version"] == 1
    assert set(loaded) - {META} == {e["key"] for e in meta["arrays"]}
    for e in meta["arrays"]:
        assert loaded[e["key"]].dtype.str == e["dtype"]
        assert list(loaded[e["key"]].shape) == e["shape"]
    assert meta["tree"]["hyper"]["lr"] == 1e-7          # JSON part lives in the meta
    assert meta["tree"]["state"]["step"] is None        # arrays are null placeholders


def test_flattening_escapes_separators_and_reserved_name(tmp_path):
    a, b, c, d, e, f = (np.array([float(i)]) for i in range(6))
    tree = {"a/b": {"c": a}, "a": {"b/c": b, "b": {"c": c}}, "x%2Fy": d,
            META: e, "n": {META: f, "ctl\x00\\": np.array([7])}}
    out = write_tree(tmp_path / "ck", tree)
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
    assert names == {META + ".npy", "a%2Fb/c.npy", "a/b%2Fc.npy", "a/b/c.npy", "x%252Fy.npy",
                     "%5F_fastopt_meta__.npy", "n/__fastopt_meta__.npy", "n/ctl%00%5C.npy"}
    assert_same(read_tree(out), tree)


def test_same_tree_gives_identical_bytes(tmp_path):
    tree = sample_tree()
    one = write_tree(tmp_path / "one", tree).read_bytes()
    two = write_tree(tmp_path / "two", tree).read_bytes()
    assert one == two


def test_compressed_round_trip(tmp_path):
    tree = {"z": np.zeros((100, 100)), "k": "v"}
    out = write_tree(tmp_path / "ck", tree, compress=True)
    with zipfile.ZipFile(out) as zf:
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())
    assert out.stat().st_size < 100 * 100 * 8 // 10
    assert_same(read_tree(out), tree)


_keys = st.text(min_size=0, max_size=6)
_arrays = hnp.arrays(dtype=st.one_of(hnp.boolean_dtypes(), hnp.integer_dtypes(),
                                     hnp.unsigned_integer_dtypes(), hnp.floating_dtypes(),
                                     hnp.complex_number_dtypes()),
                     shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5)
                     | st.floats(allow_nan=False),
                     lambda inner: st.lists(inner, max_size=3), max_leaves=6)
_trees = st.recursive(st.dictionaries(_keys, _arrays | _json, max_size=4),
                      lambda inner: st.dictionaries(_keys, inner | _arrays | _json, max_size=4),
                      max_leaves=10)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=_trees)
def test_round_trip_property(tree):
    with tempfile.TemporaryDirectory() as d:
        assert_same(read_tree(write_tree(Path(d) / "ck", tree)), tree)


# ---------------------------------------------------------------- atomicity
def _listing(directory):
    return sorted(p.name for p in Path(directory).iterdir())


def test_failed_replace_leaves_existing_file_and_no_temp(tmp_path, monkeypatch):
    target = write_tree(tmp_path / "ck", {"a": np.arange(3)})
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk on fire")

    monkeypatch.setattr(checkpoint_io.os, "replace", boom)
    with pytest.raises(OSError, match="disk on fire"):
        write_tree(target, {"a": np.arange(1000), "b": "new"})
    assert target.read_bytes() == before
    assert _listing(tmp_path) == ["ck.npz"]


@pytest.mark.parametrize("exc", [RuntimeError("midway"), KeyboardInterrupt()])
def test_failure_while_writing_members(tmp_path, monkeypatch, exc):
    target = write_tree(tmp_path / "ck", {"old": np.arange(3)})
    before = target.read_bytes()
    real = np.lib.format.write_array
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:              # meta and one array already written
            raise exc
        return real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", flaky)
    with pytest.raises(type(exc)):
        write_tree(target, {"a": np.ones(10), "b": np.ones(10), "c": np.ones(10)})
    assert len(calls) == 3
    assert target.read_bytes() == before
    assert _listing(tmp_path) == ["ck.npz"]
    monkeypatch.undo()
    assert_same(read_tree(target), {"old": np.arange(3)})


def test_failure_on_new_target_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint_io.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("io")))
    with pytest.raises(OSError, match="io"):
        write_tree(tmp_path / "new", {"a": np.ones(3)})
    assert _listing(tmp_path) == []


def test_temp_file_is_fsynced_in_target_dir_then_replaced(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(checkpoint_io.os, "fsync",
                        lambda fd: (events.append("fsync"), real_fsync(fd))[1])

    def replace(src, dst):
        events.append(("replace", Path(src).parent, Path(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint_io.os, "replace", replace)
    write_tree(tmp_path / "ck", {"a": np.ones(3)})
    assert events[0] == "fsync"
    assert events[1] == ("replace", tmp_path, tmp_path / "ck.npz")


# ------------------------------------------------------------ write errors
class _Thing:
    pass


@pytest.mark.parametrize("tree, exc, pattern", [
    ({"s": {"x": np.array([1, "a"], dtype=object)}}, TypeError, r"\['s'\]\['x'\].*object"),
    ({"s": {"x": np.array(["ab"])}}, TypeError, r"\['s'\]\['x'\].*dtype"),
    ({"s": {1: np.ones(2)}}, TypeError, r"key 1 at \['s'\].*str"),
    ({("t",): 1}, TypeError, r"keys must be str"),
    ({"l": [1, np.ones(2)]}, TypeError, r"\['l'\]\[1\].*lists may not contain arrays"),
    ({"l": [{"k": {2: 3}}]}, TypeError, r"key 2"),
    ({"t": (0.9, 0.999)}, TypeError, r"\['t'\].*tuple.*use a list"),
    ({"g": np.float32(1.0)}, TypeError, r"\['g'\].*float32"),
    ({"o": _Thing()}, TypeError, r"\['o'\].*_Thing"),
    ({"m": np.ma.masked_array([1.0, 2.0], mask=[0, 1])}, TypeError, r"masked"),
    ({"k\udcff": 1}, ValueError, r"Unicode"),
    ([np.ones(2)], TypeError, r"tree must be a dict"),
])
def test_write_rejects_bad_trees_before_touching_disk(tmp_path, tree, exc, pattern):
    with pytest.raises(exc, match=pattern):
        write_tree(tmp_path / "ck", tree)
    assert _listing(tmp_path) == []


# ------------------------------------------------------------- read errors
def _bad_future_version(meta, arrays):
    meta["format_version"] = 2


CORRUPT = {
    "truncated": (lambda tp: _cut(write_tree(tp / "ok", sample_tree()), 0.5),
                  ValueError, r"BadZipFile|zip"),
    "random bytes": (lambda tp: _put(tp, np.random.default_rng(0).bytes(4096)),
                     ValueError, r"not a zip"),
    "empty file": (lambda tp: _put(tp, b""), ValueError, r"empty"),
    "single .npy": (lambda tp: _npy(tp), ValueError, r"not a zip"),
    "pickle file": (lambda tp: _put(tp, b"\x80\x04\x95" + bytes(20)), ValueError, r"not a zip"),
    "plain savez": (lambda tp: _savez(tp), ValueError, r"no '__fastopt_meta__'.*plain \.npz"),
    "wrong format name": (lambda tp: tamper(tp, lambda m, a: m.update(format="other")),
                          ValueError, r"\"format\": 'fastopt-checkpoint'.*not a fastopt"),
    "meta without format": (lambda tp: tamper(tp, lambda m, a: (m.clear(), m.update(x=[]))),
                           ValueError, r"format"),
    "future format_version": (lambda tp: tamper(tp, _bad_future_version), ValueError,
                              r"format_version 2 is newer than the supported version 1"),
    "bad format_version": (lambda tp: tamper(tp, lambda m, a: m.update(format_version="1")),
                           ValueError, r"bad format_version '1'"),
    "missing array": (lambda tp: tamper(tp, lambda m, a: a.pop("b")),
                      ValueError, r"missing: \['b'\]"),
    "dtype mismatch": (lambda tp: tamper(tp, lambda m, a: a.update(b=np.zeros(2, np.float32))),
                       ValueError, r"array 'b': stored dtype '<f4'.*metadata \('<f8'\)"),
    "shape mismatch": (lambda tp: tamper(tp, lambda m, a: a.update(b=np.zeros(3))),
                       ValueError, r"array 'b': stored shape \[3\].*metadata \(\[2\]\)"),
    "extra unlisted array": (lambda tp: tamper(tp, lambda m, a: a.update(sneaky=np.ones(1))),
                             ValueError, r"unlisted.*sneaky"),
    "object array member": (lambda tp: tamper(tp, _object_member), ValueError,
                            r"unsupported dtype object"),
    "meta not JSON": (lambda tp: tamper(tp, _meta_bytes(b"{not json")), ValueError,
                      r"not valid UTF-8 JSON"),
    "meta not UTF-8": (lambda tp: tamper(tp, _meta_bytes(b"\xff\xfe{}")), ValueError,
                       r"not valid UTF-8 JSON"),
    "meta wrong dtype": (lambda tp: tamper(tp, _meta_as(np.float64)), ValueError,
                         r"stored dtype '<f8'"),
    "malformed entry": (lambda tp: tamper(tp, lambda m, a: m["arrays"][0].update(shape=[-1])),
                        ValueError, r"malformed array entry"),
    "key/path disagree": (lambda tp: tamper(tp, lambda m, a: m["arrays"][0].update(path=["q"])),
                          ValueError, r"malformed array entry"),
    "no slot in tree": (lambda tp: tamper(tp, lambda m, a: m["tree"].pop("b")),
                        ValueError, r"no null slot for array 'b'"),
    "listed twice": (lambda tp: tamper(tp, lambda m, a: m["arrays"].append(m["arrays"][-1])),
                     ValueError, r"twice"),
    "forged header size": (lambda tp: tamper(tp, _forged_header), ValueError,
                           r"size does not match"),
}


def _put(tp, data):
    (tp / "bad.npz").write_bytes(data)
    return tp / "bad.npz"


def _cut(path, fraction):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def _npy(tp):
    np.save(tp / "bad.npy", np.arange(3))
    return tp / "bad.npy"


def _savez(tp):
    np.savez(tp / "plain.npz", a=np.arange(3), b=np.ones(2))
    return tp / "plain.npz"


def _meta_bytes(raw):
    def edit(meta, arrays):
        arrays[META] = meta_array(raw)
    return edit


def _meta_as(dtype):
    def edit(meta, arrays):
        arrays[META] = meta_array(meta).astype(dtype)
    return edit


def _object_member(meta, arrays):
    arrays["b"] = np.array([None, {"x": 1}], dtype=object)   # pickled on disk
    meta["arrays"][-1]["dtype"] = "|O"


def _forged_header(meta, arrays):
    # header claims a huge array; the data is tiny: must be refused before allocating
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (10**12,)})
    arrays["b"] = header.getvalue() + bytes(16)
    for e in meta["arrays"]:
        if e["key"] == "b":
            e["shape"] = [10**12]


@pytest.mark.parametrize("case", list(CORRUPT))
def test_corrupt_inputs_raise_value_error_naming_the_problem(tmp_path, case):
    make, exc, pattern = CORRUPT[case]
    path = make(tmp_path)
    with pytest.raises(exc, match=pattern) as info:
        read_tree(path)
    assert str(path) in str(info.value)
    assert "is not a valid fastopt checkpoint" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.npz.*does not exist") as info:
        read_tree(tmp_path / "nope.npz")
    assert info.value.filename == str(tmp_path / "nope.npz")
    write_tree(tmp_path / "ck", {"a": 1})
    with pytest.raises(FileNotFoundError, match=r"did you mean ck\.npz"):
        read_tree(tmp_path / "ck")


def test_every_truncation_raises_value_error(tmp_path):
    data = write_tree(tmp_path / "ok", {"a": np.arange(10.0), "b": {"c": "x"}}).read_bytes()
    bad = tmp_path / "bad.npz"
    for n in range(len(data)):
        bad.write_bytes(data[:n])
        with pytest.raises(ValueError, match="is not a valid fastopt checkpoint"):
            read_tree(bad)


def test_single_byte_corruption_never_escapes_as_another_error(tmp_path):
    tree = {"a": np.arange(10.0), "b": {"c": "x"}}
    data = bytearray(write_tree(tmp_path / "ok", tree).read_bytes())
    bad = tmp_path / "bad.npz"
    detected = 0
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0xFF
        bad.write_bytes(flipped)
        try:
            back = read_tree(bad)
        except ValueError as exc:
            assert "is not a valid fastopt checkpoint" in str(exc)
            detected += 1
        else:                       # only bytes nobody reads (timestamps, flags...) may change
            assert_same(back, tree)
    assert detected > len(data) // 2
