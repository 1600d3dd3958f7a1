"""tnsim.data: IDX loading, MD5 checks, clear errors, downloads (file:// and fake openers only)."""

import gzip
import io
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA_DIR
from tnsim import data

HAVE_MNIST = (DATA_DIR / "mnist" / "t10k-images-idx3-ubyte.gz").is_file()
needs_mnist = pytest.mark.skipif(not HAVE_MNIST, reason=f"MNIST not found under {DATA_DIR}")


@needs_mnist
def test_load_mnist_shapes_and_checksums():
    ds = data.load("mnist", DATA_DIR)
    assert ds.train_images.shape == (60000, 28, 28) and ds.train_images.dtype == np.uint8
    assert ds.test_images.shape == (10000, 28, 28)
    assert ds.train_labels.shape == (60000,) and set(np.unique(ds.test_labels)) == set(range(10))
    x = data.to_float(ds.test_images[:5])
    assert x.shape == (5, 784) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1


def test_data_dir_resolution(monkeypatch, tmp_path):
    assert data.data_dir(tmp_path) == tmp_path
    monkeypatch.setenv("TNSIM_DATA", str(tmp_path / "env"))
    assert data.data_dir() == tmp_path / "env"
    monkeypatch.delenv("TNSIM_DATA")
    assert data.data_dir() == Path.home() / ".cache" / "tnsim"


def test_missing_files_give_clear_error(tmp_path):
    with pytest.raises(data.DataError, match="missing .*train-images-idx3-ubyte.gz.*--no-download"):
        data.load("mnist", tmp_path)
    with pytest.raises(data.DataError, match="unknown data set"):
        data.load("no-such-set", tmp_path)


@needs_mnist
def test_one_missing_file_is_named(tmp_path):
    folder = data.copy_subset(DATA_DIR, tmp_path)
    os.unlink(folder / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(data.DataError) as e:
        data.load("mnist", tmp_path)
    assert "t10k-labels-idx1-ubyte.gz" in str(e.value) and "train-images" not in str(e.value).split("in ")[0]


@needs_mnist
def test_corrupt_file_is_detected(tmp_path):
    folder = data.copy_subset(DATA_DIR, tmp_path)
    p = folder / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(p.read_bytes())
    raw[100] ^= 0xFF
    p.write_bytes(bytes(raw))
    with pytest.raises(data.DataError, match="corrupt .*expected ec29112dd5afa0611ce80d1b7f02629c"):
        data.load("mnist", tmp_path)


def test_parse_idx_errors():
    good = struct.pack(">HBBII", 0, 8, 2, 2, 3) + bytes(range(6))
    assert data.parse_idx(good).tolist() == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(data.DataError, match="need 6 data bytes"):
        data.parse_idx(good[:-1])
    with pytest.raises(data.DataError, match="not an unsigned-byte IDX"):
        data.parse_idx(struct.pack(">HBBI", 0, 0x0D, 1, 1) + b"\0\0\0\0")
    with pytest.raises(data.DataError, match="too short"):
        data.parse_idx(b"\0")


@needs_mnist
def test_download_from_file_url(tmp_path):
    dest = tmp_path / "dl"
    mirror = (DATA_DIR / "mnist").resolve().as_uri() + "/"
    folder = data.download("mnist", dest, mirrors=["file:///nonexistent/dir/", mirror], progress=False)
    assert folder == dest / "mnist"
    assert data.verify("mnist", dest) == folder
    assert not list(folder.glob("*.part"))
    # a second call finds everything in place and opens nothing
    data.download("mnist", dest, mirrors=["file:///nonexistent/"], progress=True,
                  opener=lambda url: pytest.fail("should not download"))


def test_download_with_bad_checksum_leaves_nothing(tmp_path):
    class Fake(io.BytesIO):
        headers = {"Content-Length": "11"}

    with pytest.raises(data.DataError, match="(?s)could not download train-images.*MD5"):
        data.download("mnist", tmp_path, mirrors=["http://example.invalid/"], progress=True,
                      opener=lambda url: Fake(b"not a file!"))
    assert list((tmp_path / "mnist").iterdir()) == []


def test_download_of_a_good_file_with_fake_opener(tmp_path, monkeypatch):
    payload = gzip.compress(struct.pack(">HBBI", 0, 8, 1, 3) + b"\x01\x02\x03")
    digest = __import__("hashlib").md5(payload).hexdigest()
    info = data.DatasetInfo("tiny", ("http://example.invalid/",), {"a.gz": digest})
    monkeypatch.setitem(data.DATASETS, "tiny", info)
    seen = []

    def opener(url):
        seen.append(url)
        return io.BytesIO(payload)

    folder = data.download("tiny", tmp_path, progress=False, opener=opener)
    assert seen == ["http://example.invalid/a.gz"]
    assert (folder / "a.gz").read_bytes() == payload
