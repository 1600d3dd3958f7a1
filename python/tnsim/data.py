"""IDX image data sets (MNIST and sets with the same layout), MD5-verified, optionally downloaded.

A data set lives in ``<data_dir>/<name>/`` as the four gzip-compressed IDX files its publisher
distributes (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``). The folder is ``data_dir`` if
given, else ``$TNSIM_DATA``, else ``~/.cache/tnsim``. Files are checked against the published
MD5 sums before they are parsed; a missing file raises :class:`DataError` naming the file and
saying how to get it, a corrupt one names the expected and actual checksum.

:func:`download` fetches missing files with ``urllib`` (any URL scheme urllib opens, including
``file://``), shows a progress bar, checks the MD5 and only then moves the file into place.
Nothing here downloads unless asked: :func:`load` never touches the network.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


@dataclass(frozen=True)
class DatasetInfo:
    """Where a data set comes from and the MD5 of each of its four files."""

    name: str
    mirrors: Tuple[str, ...]
    md5: Dict[str, str]
    classes: int = 10


DATASETS: Dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        "mnist",
        ("https://ossci-datasets.s3.amazonaws.com/mnist/",
         "https://storage.googleapis.com/cvdf-datasets/mnist/",
         "http://yann.lecun.com/exdb/mnist/"),
        {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist",
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    ),
}


class DataError(OSError):
    """A data set file is missing, corrupt, or not in IDX format."""


@dataclass
class Dataset:
    """Images as uint8 ``(n, rows, cols)`` and labels as uint8 ``(n,)`` for train and test."""

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def data_dir(path: "Optional[os.PathLike[str] | str]" = None) -> Path:
    """The data folder: ``path`` if given, else ``$TNSIM_DATA``, else ``~/.cache/tnsim``."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get("TNSIM_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "tnsim"


def _info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name.lower()]
    except KeyError:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(sorted(DATASETS))}") from None


def md5sum(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def parse_idx(raw: bytes, what: str = "IDX data") -> np.ndarray:
    """Parse an (uncompressed) IDX file holding unsigned bytes: magic 0x0000080D, dims, data."""
    if len(raw) < 4:
        raise DataError(f"{what}: file too short for an IDX header ({len(raw)} bytes)")
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08 or ndim < 1 or ndim > 4:
        raise DataError(f"{what}: not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{what}: truncated IDX header")
    dims = struct.unpack(">" + "I" * ndim, raw[4:header])
    size = int(np.prod(dims, dtype=np.int64))
    if len(raw) != header + size:
        raise DataError(f"{what}: IDX dimensions {dims} need {size} data bytes, file has {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, count=size, offset=header).reshape(dims)


def _missing_message(info: DatasetInfo, folder: Path, missing: Sequence[str]) -> str:
    return (f"data set {info.name!r}: missing {', '.join(missing)} in {folder}. "
            f"Download them with `tnsim train --data-dir {folder.parent}` (downloads unless "
            f"--no-download), or `python -c \"import tnsim.data as d; d.download('{info.name}', "
            f"'{folder.parent}')\"`, or copy the files there (sources: {', '.join(info.mirrors)}).")


def verify(name: str = "mnist", root: "Optional[os.PathLike[str] | str]" = None) -> Path:
    """Check that the four files exist and have the published MD5; return the folder."""
    info = _info(name)
    folder = data_dir(root) / info.name
    missing = [f for f in info.md5 if not (folder / f).is_file()]
    if missing:
        raise DataError(_missing_message(info, folder, missing))
    for fname, expected in info.md5.items():
        got = md5sum(folder / fname)
        if got != expected:
            raise DataError(f"data set {info.name!r}: {folder / fname} is corrupt "
                            f"(MD5 {got}, expected {expected}); delete it and download again")
    return folder


def load(name: str = "mnist", root: "Optional[os.PathLike[str] | str]" = None,
         download_missing: bool = False, progress: bool = True) -> Dataset:
    """Load a data set (MD5-checked). With ``download_missing`` fetch missing files first."""
    info = _info(name)
    if download_missing:
        download(name, root, progress=progress)
    folder = verify(name, root)
    arrays = {}
    for key, fname in FILES.items():
        path = folder / fname
        try:
            with gzip.open(path, "rb") as f:
                raw = f.read()
        except (OSError, EOFError) as e:
            raise DataError(f"{path}: cannot decompress ({e})") from None
        arrays[key] = parse_idx(raw, str(path))
    for part in ("train", "test"):
        im, lb = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if im.ndim != 3 or lb.ndim != 1 or len(im) != len(lb):
            raise DataError(f"data set {info.name!r}: {part} images {im.shape} and labels {lb.shape} do not match")
    return Dataset(info.name, **arrays)


def _progress_bar(fname: str, done: int, total: int) -> None:
    if total > 0:
        frac = min(done / total, 1.0)
        bar = "#" * int(30 * frac)
        sys.stderr.write(f"\r  {fname:30s} [{bar:30s}] {done / 1e6:6.1f}/{total / 1e6:.1f} MB")
    else:
        sys.stderr.write(f"\r  {fname:30s} {done / 1e6:6.1f} MB")
    sys.stderr.flush()


def download(name: str = "mnist", root: "Optional[os.PathLike[str] | str]" = None,
             mirrors: Optional[Sequence[str]] = None, progress: bool = True,
             opener: Optional[Callable[[str], Any]] = None) -> Path:
    """Download the files of ``name`` that are missing or corrupt into ``<root>/<name>/``.

    Each file is fetched from the first mirror that works into a temporary file, MD5-checked,
    then renamed into place. ``opener(url)`` (default ``urllib.request.urlopen``) must return a
    file-like object; tests pass a fake one or use ``file://`` mirrors.
    """
    info = _info(name)
    folder = data_dir(root) / info.name
    folder.mkdir(parents=True, exist_ok=True)
    open_url: Callable[[str], Any] = opener or (lambda url: urllib.request.urlopen(url, timeout=60))
    for fname, expected in info.md5.items():
        target = folder / fname
        if target.is_file() and md5sum(target) == expected:
            continue
        errors = []
        for base in (mirrors or info.mirrors):
            url = base.rstrip("/") + "/" + fname
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=fname + ".", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    resp = open_url(url)
                    try:
                        total = int(getattr(resp, "headers", {}).get("Content-Length", 0) or 0)
                    except (TypeError, ValueError, AttributeError):
                        total = 0
                    done = 0
                    try:
                        while True:
                            block = resp.read(1 << 16)
                            if not block:
                                break
                            out.write(block)
                            done += len(block)
                            if progress:
                                _progress_bar(fname, done, total)
                    finally:
                        close = getattr(resp, "close", None)
                        if close:
                            close()
                if progress:
                    sys.stderr.write("\n")
                got = md5sum(Path(tmp))
                if got != expected:
                    raise DataError(f"MD5 {got}, expected {expected}")
                os.replace(tmp, target)
                break
            except Exception as e:  # try the next mirror
                errors.append(f"{url}: {e}")
                if os.path.exists(tmp):
                    os.unlink(tmp)
        else:
            raise DataError(f"could not download {fname} for {info.name!r} into {folder}:\n  "
                            + "\n  ".join(errors))
    return folder


def copy_subset(src_root: "os.PathLike[str] | str", dst_root: "os.PathLike[str] | str", name: str = "mnist") -> Path:
    """Copy a data set folder (used by tests to corrupt or remove files in a temporary copy)."""
    info = _info(name)
    src = Path(src_root) / info.name
    dst = Path(dst_root) / info.name
    dst.mkdir(parents=True, exist_ok=True)
    for fname in info.md5:
        shutil.copy2(src / fname, dst / fname)
    return dst


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 images ``(n, r, c)`` -> float32 ``(n, r*c)`` intensities in [0, 1]."""
    return (images.reshape(len(images), -1).astype(np.float32) / 255.0)
