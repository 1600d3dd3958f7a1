"""Spike files: host inputs, recorded spikes and output rasters, as ``.npz`` or plain text.

Kinds of content (docs/spike-files.md has the layouts):

- ``"inputs"``: ``(n, 4)`` int64 rows ``(tick, x, y, axon)``, host input spikes;
- ``"spikes"``: ``(n, 4)`` int64 rows ``(tick, x, y, neuron)``, recorded neuron spikes;
- ``"raster"``: ``(T, K)`` int32 output counts, row r = tick ``start_tick + r``, column = port;
- ``"run"`` (``.npz`` only): everything ``tnsim run`` writes: the raster, per-tick counters and,
  when recorded, the spikes (:func:`save_result`, :func:`load_result`).

Forms: ``.npz`` (numpy's zip of ``.npy`` arrays, with ``format``/``version``/``kind`` markers,
never pickles) and text (``.txt``/``.spikes``: a header line ``# tnsim-spikes 1 kind=...``, then
one row of integers per line, ``#`` comments allowed). Readers detect the form from the content.

Every reader treats its input as untrusted: anything malformed, truncated, oversized or hostile
is a :class:`tnsim.FormatError` (a ``ValueError``) that names the file, the line (text) or the
array (npz), and the field; never another exception, a crash or a hang. Declared sizes (npz
headers, zip members, ``rows=``/``ticks=``/``ports=`` in text headers) are checked against
``max_bytes`` before anything is allocated. A file that cannot be opened is an ``OSError``.
"""

from __future__ import annotations

import io
import math
import os
import re
import zipfile
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Type

import numpy as np

from ._core import FormatError, InputError
from .results import COUNTER_NAMES, RunResult

#: Name written in every spike file (the npz ``format`` array; the text header's first word).
SPIKE_FORMAT = "tnsim-spikes"
#: Version of the spike-file layouts written by this module.
SPIKE_FORMAT_VERSION = 1
#: Default limit, in bytes, on a spike file and on the arrays it declares (``max_bytes``).
SPIKE_MAX_BYTES = 1 << 31

KINDS = ("inputs", "spikes", "raster", "run")
EVENT_COLUMNS = {"inputs": ("tick", "x", "y", "axon"), "spikes": ("tick", "x", "y", "neuron")}
RASTER_COLUMNS = ("tick", "port", "count")
TEXT_EXTENSIONS = (".txt", ".spikes")

_NPZ_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_BOM = b"\xef\xbb\xbf"
_MAX_MEMBERS = 64
_I32_MAX = 2**31 - 1
_TEXT_CHUNK_ROWS = 1 << 16


@dataclass
class SpikeFile:
    """The content of a spike file, as :func:`read_spikes` returns it.

    Attributes:
        kind: ``"inputs"``, ``"spikes"``, ``"raster"`` or ``"run"``.
        data: ``(n, 4)`` int64 events (inputs, spikes) or ``(T, K)`` int32 output counts
            (raster, run).
        start_tick: the tick of row 0 of a raster (0 for events).
        spikes: a run file's recorded spikes (None if the run did not record them).
        counters: a run file's per-tick counters (name -> ``(T,)`` int64), else None.
        source: the file name, for messages.
    """

    kind: str
    data: np.ndarray
    start_tick: int = 0
    spikes: Optional[np.ndarray] = None
    counters: Optional[Dict[str, np.ndarray]] = None
    source: str = "<bytes>"

    def array(self, kind: Optional[str] = None) -> np.ndarray:
        """The array of ``kind`` (default: this file's own): a run file gives its raster for
        ``"raster"`` and its recorded spikes for ``"spikes"``. FormatError for any other kind."""
        if kind is not None and kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if kind is None or kind == self.kind or (self.kind == "run" and kind == "raster"):
            return self.data
        if self.kind == "run" and kind == "spikes":
            if self.spikes is None:
                raise FormatError(f"{self.source}: the run was not recorded with spikes (no 'spikes' array)")
            return self.spikes
        raise FormatError(f"{self.source}: holds {self.kind}, not {kind}")


# --- checking arrays -------------------------------------------------------------------------


def _first(mask: np.ndarray) -> Tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _row_name(r: int, lines: Optional[np.ndarray]) -> str:
    return f"line {int(lines[r])}" if lines is not None else f"row {r}"


def _integral(arr: np.ndarray, where: str, what: str, cols: Optional[Tuple[str, ...]],
              err: Type[Exception], lines: Optional[np.ndarray] = None) -> np.ndarray:
    """``arr`` as int64: integer, bool or integral float values; NaN, fractions, objects refused."""
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.bool_)
                                   or np.issubdtype(arr.dtype, np.floating)):
        raise err(f"{where}: {what} must hold integers, got dtype {arr.dtype}")

    def at(idx: Tuple[int, ...]) -> str:
        if cols is not None and len(idx) == 2:
            return f"{_row_name(idx[0], lines)}: field {cols[idx[1]]!r}"
        return f"element {idx}"

    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr)
        if bad.any():
            idx = _first(bad)
            raise err(f"{where}: {what}: {at(idx)} is {arr[idx]} (NaN or infinite)")
        bad = arr != np.round(arr)
        if bad.any():
            idx = _first(bad)
            raise err(f"{where}: {what}: {at(idx)} is {arr[idx]}, not an integer")
        with np.errstate(all="ignore"):  # float16 cannot hold 2^62; a long double may exceed float64
            bad = np.abs(arr.astype(np.float64)) >= 2.0**62
        if bad.any():
            idx = _first(bad)
            raise err(f"{where}: {what}: {at(idx)} is {arr[idx]}, beyond the int64 range")
    if np.issubdtype(arr.dtype, np.unsignedinteger) and arr.size and arr.max() >= 2**63:
        idx = _first(arr >= 2**63)
        raise err(f"{where}: {what}: {at(idx)} is {arr[idx]}, beyond the int64 range")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _check_events(arr: np.ndarray, kind: str, where: str, err: Type[Exception],
                  lines: Optional[np.ndarray] = None) -> np.ndarray:
    """Validate ``(n, 4)`` events of ``kind`` ("inputs" or "spikes"); return them as int64."""
    cols = EVENT_COLUMNS[kind]
    arr = np.asarray(arr)
    if arr.size == 0 and arr.dtype != object and arr.ndim <= 2 and (arr.ndim < 2 or arr.shape[1] in (0, 4)):
        return np.zeros((0, 4), dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise err(f"{where}: {kind} has shape {arr.shape}, expected (n, 4) rows ({', '.join(cols)})")
    out = _integral(arr, where, kind, cols, err, lines)
    limits = ((0, None), (0, None), (0, None), (0, 255))
    for c, (lo, hi) in enumerate(limits):
        bad = out[:, c] < lo if hi is None else (out[:, c] < lo) | (out[:, c] > hi)
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            rng = f"must be >= {lo}" if hi is None else f"is out of range {lo}..={hi}"
            raise err(f"{where}: {kind}: {_row_name(r, lines)}: field {cols[c]!r} = {int(out[r, c])} {rng}")
    return out


def _check_raster(arr: np.ndarray, where: str, err: Type[Exception]) -> np.ndarray:
    """Validate a ``(T, K)`` raster of counts >= 0 (bool or integers); return it as int32."""
    arr = np.asarray(arr)
    if arr.ndim != 2:
        raise err(f"{where}: the raster has shape {arr.shape}, expected (ticks, ports)")
    out = _integral(arr, where, "the raster", None, err)
    bad = (out < 0) | (out > _I32_MAX)
    if bad.any():
        idx = _first(bad)
        raise err(f"{where}: the raster: tick row {idx[0]} port {idx[1]} = {int(out[idx])} is out of range 0..={_I32_MAX}")
    return out.astype(np.int32)


def _check_start(value: Any, err: Type[Exception], where: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not 0 <= value < 2**62:
        raise err(f"{where}: start_tick must be an integer >= 0, got {value!r}")
    return int(value)


# --- writing ---------------------------------------------------------------------------------


def _atomic_write(path: "os.PathLike[str] | str", write: Callable[[Any], None]) -> None:
    """Write through ``write(file)`` into a temporary file next to ``path``, then rename it."""
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _form(path: "os.PathLike[str] | str", format: Optional[str]) -> str:
    if format is not None:
        if format not in ("npz", "text"):
            raise ValueError(f"format must be 'npz' or 'text', got {format!r}")
        return format
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext == ".npz":
        return "npz"
    if ext in TEXT_EXTENSIONS:
        return "text"
    raise ValueError(f"cannot tell the form of {os.fspath(path)!r} from its extension: use .npz, "
                     f"{' or '.join(TEXT_EXTENSIONS)}, or pass format='npz' / 'text'")


def _markers(kind: str) -> Dict[str, np.ndarray]:
    return {"format": np.array(SPIKE_FORMAT), "version": np.array(SPIKE_FORMAT_VERSION, dtype=np.int64),
            "kind": np.array(kind)}


def _save_npz(path: "os.PathLike[str] | str", arrays: Dict[str, np.ndarray]) -> None:
    _atomic_write(path, lambda f: np.savez_compressed(f, **arrays))  # type: ignore[arg-type]


def save_spikes(path: "os.PathLike[str] | str", data: Any, kind: str = "inputs", *, start_tick: int = 0,
                format: Optional[str] = None) -> None:
    """Write spikes to ``path`` (atomically).

    Args:
        path: the file; ``.npz`` is written as npz, ``.txt`` and ``.spikes`` as text, unless
            ``format`` (``"npz"`` or ``"text"``) says otherwise.
        data: ``(n, 4)`` integer rows for kind ``"inputs"`` ``(tick, x, y, axon)`` or
            ``"spikes"`` ``(tick, x, y, neuron)``; a ``(T, K)`` bool or count array for
            ``"raster"`` (row r = tick ``start_tick + r``, column = output port).
        kind: ``"inputs"``, ``"spikes"`` or ``"raster"`` (use :func:`save_result` for a run).
        start_tick: the tick of a raster's row 0.

    Raises:
        InputError: data of the wrong shape or out of range (ticks, x, y >= 0; axon or neuron
            0..255; counts >= 0). TypeError: non-numeric data. ValueError: unknown kind or form.
    """
    if kind not in ("inputs", "spikes", "raster"):
        raise ValueError(f"kind must be 'inputs', 'spikes' or 'raster', got {kind!r}")
    form = _form(path, format)
    where = f"save_spikes({os.fspath(path)!r})"
    arr = np.asarray(data)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
        raise TypeError(f"{where}: {kind} must be an integer array, got dtype {arr.dtype}")
    if kind == "raster":
        values = _check_raster(arr, where, InputError)
        start = _check_start(start_tick, InputError, where)
    else:
        values = _check_events(arr, kind, where, InputError)
        start = 0
    if form == "npz":
        arrays = _markers(kind)
        if kind == "raster":
            arrays["output_counts"] = values
            arrays["start_tick"] = np.array(start, dtype=np.int64)
        else:
            arrays[kind] = values
        _save_npz(path, arrays)
        return
    if kind == "raster":
        t, p = np.nonzero(values)
        rows = np.column_stack([t.astype(np.int64) + start, p, values[t, p]])
        header = (f"# {SPIKE_FORMAT} {SPIKE_FORMAT_VERSION} kind=raster ticks={values.shape[0]} "
                  f"ports={values.shape[1]} start_tick={start} rows={len(rows)}\n# {' '.join(RASTER_COLUMNS)}\n")
    else:
        rows = values
        header = (f"# {SPIKE_FORMAT} {SPIKE_FORMAT_VERSION} kind={kind} rows={len(rows)}\n"
                  f"# {' '.join(EVENT_COLUMNS[kind])}\n")

    def write(f: Any) -> None:
        f.write(header.encode("ascii"))
        if len(rows):
            np.savetxt(f, rows, fmt="%d", delimiter=" ")

    _atomic_write(path, write)


def save_result(path: "os.PathLike[str] | str", result: RunResult) -> None:
    """Write a whole :class:`tnsim.RunResult` (raster, counters, recorded spikes) as a run
    ``.npz`` (what ``tnsim run -o OUT.npz`` writes); read it back with :func:`load_result`."""
    if not isinstance(result, RunResult):
        raise TypeError(f"save_result needs a tnsim.RunResult, got {type(result).__name__}")
    arrays = _markers("run")
    arrays["output_counts"] = np.ascontiguousarray(result.output_counts, dtype=np.int32)
    arrays["output_spikes"] = np.ascontiguousarray(result.output_spikes, dtype=bool)
    arrays["start_tick"] = np.array(result.start_tick, dtype=np.int64)
    for name, values in result.counters.items():
        arrays[f"counter_{name}"] = np.ascontiguousarray(values, dtype=np.int64)
    if result.spikes is not None:
        arrays["spikes"] = np.ascontiguousarray(result.spikes, dtype=np.int64)
    _save_npz(path, arrays)


# --- reading: npz ----------------------------------------------------------------------------


def _parse_npy(raw: bytes, where: str) -> np.ndarray:
    """One ``.npy`` member, its header checked against its size before anything is allocated."""
    f = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise FormatError(f"{where}: .npy version {version} is not supported")
    except FormatError:
        raise
    except MemoryError:
        raise
    except Exception as e:  # numpy raises ValueError, but a hostile header may do anything
        raise FormatError(f"{where}: bad .npy header: {str(e)[:200]}") from None
    if dtype.hasobject:
        raise FormatError(f"{where}: holds Python objects (dtype {dtype}); spike files never hold pickles")
    if dtype.kind not in "biufU" or dtype.itemsize == 0 or dtype.subdtype is not None or dtype.names:
        raise FormatError(f"{where}: unsupported dtype {dtype}")
    if any(d < 0 for d in shape):
        raise FormatError(f"{where}: bad shape {shape}")
    count = math.prod(shape)
    offset = f.tell()
    if count * dtype.itemsize != len(raw) - offset:
        raise FormatError(f"{where}: header declares shape {shape} of {dtype} ({count * dtype.itemsize:,} bytes) "
                          f"but {len(raw) - offset:,} bytes follow (truncated or corrupt)")
    if count == 0:
        return np.zeros(shape, dtype=dtype)
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)
    return arr.reshape(shape, order="F" if fortran else "C")


def _read_npz(data: bytes, where: str, max_bytes: int) -> Dict[str, np.ndarray]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except MemoryError:
        raise
    except Exception as e:
        raise FormatError(f"{where}: not a valid npz (zip) file: {str(e)[:200]}") from None
    if len(infos) > _MAX_MEMBERS:
        raise FormatError(f"{where}: {len(infos)} arrays, more than a spike file has ({_MAX_MEMBERS})")
    arrays: Dict[str, np.ndarray] = {}
    total = 0
    for info in infos:
        name = info.filename
        if not name.endswith(".npy") or len(name) > 100:
            raise FormatError(f"{where}: member {name[:100]!r} is not a .npy array")
        key = name[:-4]
        if key in arrays:
            raise FormatError(f"{where}: array {key!r} appears twice")
        total += info.file_size
        if total > max_bytes:
            raise FormatError(f"{where}: array {key!r} declares {info.file_size:,} bytes, over the limit of "
                              f"{max_bytes:,} bytes in all (max_bytes)")
        try:
            raw = zf.read(info)  # reads at most info.file_size bytes, checks the CRC
        except MemoryError:
            raise
        except Exception as e:
            raise FormatError(f"{where}: array {key!r} cannot be read (corrupt or truncated): {str(e)[:200]}") from None
        arrays[key] = _parse_npy(raw, f"{where}: array {key!r}")
    return arrays


def _scalar(arrays: Dict[str, np.ndarray], key: str, kind: str, where: str) -> Any:
    arr = arrays[key]
    if arr.shape != () or arr.dtype.kind not in kind:
        raise FormatError(f"{where}: array {key!r} must be a single {'string' if kind == 'U' else 'integer'}, "
                          f"got shape {arr.shape} dtype {arr.dtype}")
    value = arr[()]
    return str(value)[:64] if kind == "U" else int(value)


def _need(arrays: Dict[str, np.ndarray], key: str, where: str, kind: str) -> np.ndarray:
    if key not in arrays:
        raise FormatError(f"{where}: a {kind} file needs an array {key!r} (arrays: {', '.join(sorted(arrays)) or 'none'})")
    return arrays[key]


def _parse_npz(data: bytes, where: str, max_bytes: int) -> SpikeFile:
    arrays = _read_npz(data, where, max_bytes)
    if "format" in arrays:
        fmt = _scalar(arrays, "format", "U", where)
        if fmt != SPIKE_FORMAT:
            raise FormatError(f"{where}: format {fmt!r} is not {SPIKE_FORMAT!r}")
        _need(arrays, "version", where, "tnsim")
        version = _scalar(arrays, "version", "iu", where)
        if version != SPIKE_FORMAT_VERSION:
            raise FormatError(f"{where}: spike file version {version} is not supported "
                              f"(this tnsim reads version {SPIKE_FORMAT_VERSION})")
        _need(arrays, "kind", where, "tnsim")
        kind = _scalar(arrays, "kind", "U", where)
        if kind not in KINDS:
            raise FormatError(f"{where}: unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    elif "inputs" in arrays:  # a plain np.savez(path, inputs=...), as older tnsim runs read
        kind = "inputs"
    elif "output_counts" in arrays:  # written by an older `tnsim run`
        kind = "run"
    else:
        raise FormatError(f"{where}: not a tnsim spike file: no 'format' marker and no 'inputs' array "
                          f"(arrays: {', '.join(sorted(arrays)) or 'none'})")
    if kind in EVENT_COLUMNS:
        events = _check_events(_need(arrays, kind, where, kind), kind, f"{where}: array {kind!r}", FormatError)
        return SpikeFile(kind, events, source=where)
    counts = _check_raster(_need(arrays, "output_counts", where, kind), f"{where}: array 'output_counts'", FormatError)
    start = 0
    if "start_tick" in arrays:
        start = _check_start(_scalar(arrays, "start_tick", "iu", where), FormatError, where)
    if kind == "raster":
        return SpikeFile(kind, counts, start_tick=start, source=where)
    counters: Dict[str, np.ndarray] = {}
    for key in sorted(arrays):
        if key.startswith("counter_"):
            values = arrays[key]
            if values.shape != (counts.shape[0],):
                raise FormatError(f"{where}: array {key!r} has shape {values.shape}, expected ({counts.shape[0]},) "
                                  "(one value per tick)")
            counters[key[len("counter_"):]] = _integral(values, where, f"array {key!r}", None, FormatError)
    spikes = None
    if "spikes" in arrays:
        spikes = _check_events(arrays["spikes"], "spikes", f"{where}: array 'spikes'", FormatError)
    return SpikeFile(kind, counts, start_tick=start, spikes=spikes, counters=counters, source=where)


# --- reading: text ---------------------------------------------------------------------------

_TOKEN = re.compile(rb"[+-]?[0-9]{1,18}\Z")
_NUMBER = re.compile(r"[0-9]{1,18}\Z")
_NUMERIC = b"0123456789+-"  # a chunk of tokens with nothing else left after deleting these is numeric
_HEADER_KEYS = {"inputs": ("kind", "rows"), "spikes": ("kind", "rows"),
                "raster": ("kind", "rows", "ticks", "ports", "start_tick")}


def _header(line: bytes, where: str) -> Dict[str, Any]:
    expected = f"expected a first line '# {SPIKE_FORMAT} {SPIKE_FORMAT_VERSION} kind=...'"
    try:
        text = line.decode("ascii").strip()
    except UnicodeDecodeError:
        raise FormatError(f"{where}: line 1: not a tnsim spike file ({expected})") from None
    parts = text[1:].split() if text.startswith("#") else []
    if len(parts) < 2 or parts[0] != SPIKE_FORMAT:
        raise FormatError(f"{where}: line 1: not a tnsim spike file ({expected})")
    if parts[1] != str(SPIKE_FORMAT_VERSION):
        raise FormatError(f"{where}: line 1: spike file version {parts[1][:20]!r} is not supported "
                          f"(this tnsim reads version {SPIKE_FORMAT_VERSION})")
    fields: Dict[str, str] = {}
    for part in parts[2:]:
        key, sep, value = part.partition("=")
        if not sep or key not in ("kind", "rows", "ticks", "ports", "start_tick"):
            raise FormatError(f"{where}: line 1: unknown header field {part[:40]!r}")
        if key in fields:
            raise FormatError(f"{where}: line 1: header field {key!r} given twice")
        fields[key] = value
    kind = fields.get("kind")
    if kind not in _HEADER_KEYS:
        raise FormatError(f"{where}: line 1: kind must be inputs, spikes or raster, got {str(kind)[:20]!r}")
    out: Dict[str, Any] = {"kind": kind}
    for key, value in fields.items():
        if key == "kind":
            continue
        if key not in _HEADER_KEYS[kind]:
            raise FormatError(f"{where}: line 1: header field {key!r} does not belong to kind={kind}")
        if not _NUMBER.match(value):
            raise FormatError(f"{where}: line 1: header field {key}={value[:20]!r} is not an integer >= 0")
        out[key] = int(value)
    if kind == "raster":
        for key in ("ticks", "ports"):
            if key not in out:
                raise FormatError(f"{where}: line 1: a raster needs the header field {key}=")
    return out


def _text_rows(lines: Iterable[bytes], cols: Tuple[str, ...], where: str, max_rows: int,
               declared: Optional[int]) -> Tuple[np.ndarray, np.ndarray]:
    """Parse data lines (from line 2) into ``(n, len(cols))`` int64 and their line numbers."""
    ncols = len(cols)
    chunks: List[np.ndarray] = []
    line_chunks: List[np.ndarray] = []
    tokens: List[bytes] = []
    numbers: List[int] = []
    total = 0

    def flush() -> None:
        values = None
        if max(map(len, tokens)) <= 19 and not b"".join(tokens).translate(None, _NUMERIC):
            try:  # fast path; signs in the wrong place fail here and are located below
                values = np.array(tokens, dtype=np.int64)
            except (ValueError, OverflowError):
                values = None
        if values is None:
            for i, t in enumerate(tokens):
                if not _TOKEN.match(t):
                    raise FormatError(f"{where}: line {numbers[i // ncols]}: field {cols[i % ncols]!r}: "
                                      f"{t[:20].decode('ascii', 'replace')!r} is not an integer (at most 18 digits)")
            raise FormatError(f"{where}: lines {numbers[0]}..{numbers[-1]}: values are not integers")
        chunks.append(values.reshape(-1, ncols))
        line_chunks.append(np.array(numbers, dtype=np.int64))
        tokens.clear()
        numbers.clear()

    for number, raw in enumerate(lines, start=2):
        content = raw.split(b"#", 1)[0]
        if not raw.isascii():
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                raise FormatError(f"{where}: line {number}: not UTF-8 text") from None
        parts = content.split()
        if not parts:
            continue
        if len(parts) != ncols:
            raise FormatError(f"{where}: line {number}: expected {ncols} integers ({' '.join(cols)}), "
                              f"got {len(parts)} values")
        total += 1
        if declared is not None and total > declared:
            raise FormatError(f"{where}: line {number}: more rows than the header's rows={declared}")
        if total > max_rows:
            raise FormatError(f"{where}: line {number}: more than {max_rows:,} rows, over the limit (max_bytes)")
        tokens.extend(parts)
        numbers.append(number)
        if len(numbers) >= _TEXT_CHUNK_ROWS:
            flush()
    if numbers:
        flush()
    if declared is not None and total != declared:
        raise FormatError(f"{where}: the header declares rows={declared} but the file holds {total} rows "
                          "(truncated?)")
    if not chunks:
        return np.zeros((0, ncols), dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(chunks), np.concatenate(line_chunks)


def _parse_text(data: bytes, where: str, max_bytes: int) -> SpikeFile:
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    stream = io.BytesIO(data)
    first = stream.readline()
    head = _header(first, where)
    kind = head["kind"]
    declared = head.get("rows")
    cols: Tuple[str, ...]
    if kind == "raster":
        ticks, ports = head["ticks"], head["ports"]
        if ticks * ports * 4 > max_bytes:
            raise FormatError(f"{where}: line 1: a raster of ticks={ticks} x ports={ports} is over the limit of "
                              f"{max_bytes:,} bytes (max_bytes)")
        cols = RASTER_COLUMNS
    else:
        cols = EVENT_COLUMNS[kind]
    max_rows = max_bytes // (8 * len(cols))
    if declared is not None and declared > max_rows:
        raise FormatError(f"{where}: line 1: rows={declared} is over the limit of {max_rows:,} rows (max_bytes)")
    rows, lines = _text_rows(stream, cols, where, max_rows, declared)
    if kind != "raster":
        return SpikeFile(kind, _check_events(rows, kind, where, FormatError, lines), source=where)
    start = head.get("start_tick", 0)
    counts = np.zeros((ticks, ports), dtype=np.int32)
    if len(rows):
        t, p, c = rows[:, 0] - start, rows[:, 1], rows[:, 2]
        checks = ((0, (t < 0) | (t >= ticks), f"the header's ticks {start}..={start + ticks - 1}"),
                  (1, (p < 0) | (p >= ports), f"range 0..={ports - 1}"),
                  (2, (c < 1) | (c > _I32_MAX), f"range 1..={_I32_MAX}"))
        for col, bad, allowed in checks:
            if bad.any():
                r = int(np.flatnonzero(bad)[0])
                raise FormatError(f"{where}: line {int(lines[r])}: field {RASTER_COLUMNS[col]!r} = "
                                  f"{int(rows[r, col])} is out of {allowed}")
        flat = t * ports + p
        order = np.argsort(flat, kind="stable")
        dup = np.flatnonzero(flat[order][1:] == flat[order][:-1])
        if dup.size:
            r = int(order[dup[0] + 1])
            raise FormatError(f"{where}: line {int(lines[r])}: tick {int(rows[r, 0])} port {int(p[r])} is listed twice")
        counts[t, p] = c
    return SpikeFile(kind, counts, start_tick=start, source=where)


# --- reading: public -------------------------------------------------------------------------


def _check_max_bytes(max_bytes: Any) -> int:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)) or max_bytes < 0:
        raise TypeError(f"max_bytes must be an integer >= 0, got {max_bytes!r}")
    return int(max_bytes)


def spikes_from_bytes(data: bytes, *, max_bytes: int = SPIKE_MAX_BYTES, name: str = "<bytes>") -> SpikeFile:
    """Parse the content of a spike file (npz or text, detected from the content)."""
    max_bytes = _check_max_bytes(max_bytes)
    try:
        data = bytes(memoryview(data))
    except TypeError:
        raise TypeError(f"spikes_from_bytes needs a bytes-like object, got {type(data).__name__}") from None
    if len(data) > max_bytes:
        raise FormatError(f"{name}: {len(data):,} bytes, over the limit of {max_bytes:,} bytes (max_bytes)")
    if data[:4] in _NPZ_MAGIC:
        return _parse_npz(data, name, max_bytes)
    return _parse_text(data, name, max_bytes)


def read_spikes(path: "os.PathLike[str] | str", *, max_bytes: int = SPIKE_MAX_BYTES) -> SpikeFile:
    """Read a spike file (npz or text, detected from the content) as a :class:`SpikeFile`.

    Raises:
        FormatError: anything malformed, truncated, over ``max_bytes`` (default 2 GiB, for the
            file and for the arrays it declares) or of another version; the message names the
            file, the line or array, and the field. OSError: a file that cannot be read.
    """
    max_bytes = _check_max_bytes(max_bytes)
    name = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FormatError(f"{name}: file is over the limit of {max_bytes:,} bytes (max_bytes)")
    return spikes_from_bytes(data, max_bytes=max_bytes, name=str(name))


def load_spikes(path: "os.PathLike[str] | str", kind: Optional[str] = None, *,
                max_bytes: int = SPIKE_MAX_BYTES) -> np.ndarray:
    """Read the array of a spike file: ``(n, 4)`` int64 for inputs and spikes, ``(T, K)`` int32
    counts for a raster. ``kind`` (optional) is the kind expected; a run file gives its raster
    for ``"raster"`` and its recorded spikes for ``"spikes"``. FormatError as :func:`read_spikes`,
    and when the file holds another kind."""
    return read_spikes(path, max_bytes=max_bytes).array(kind)


def load_result(path: "os.PathLike[str] | str", *, max_bytes: int = SPIKE_MAX_BYTES) -> RunResult:
    """Read a run ``.npz`` (:func:`save_result`, ``tnsim run -o OUT.npz``) as a RunResult."""
    sf = read_spikes(path, max_bytes=max_bytes)
    if sf.kind != "run":
        raise FormatError(f"{sf.source}: holds {sf.kind}, not a run result")
    counters = dict(sf.counters or {})
    missing = [name for name in COUNTER_NAMES if name not in counters]
    if missing:
        raise FormatError(f"{sf.source}: a run result needs every counter; missing "
                          + ", ".join(f"'counter_{name}'" for name in missing))
    ticks = sf.data.shape[0]
    return RunResult(start_tick=sf.start_tick, ticks=ticks, output_spikes=sf.data > 0, output_counts=sf.data,
                     spikes=sf.spikes, counters=counters)
