"""MNIST: IDX parsing, discovery, download verification, the real test set, errors."""

import gzip
import hashlib

import numpy as np
import pytest

from implicit_em.data import (
    MNISTNotFoundError,
    download_mnist,
    find_mnist,
    load_dataset,
    read_idx,
    write_idx,
)
from implicit_em.data import mnist as mnist_mod


def _fake_mnist(folder, n_test=50, n_train=None, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    kinds = [("test", n_test)] + ([("train", n_train)] if n_train else [])
    for kind, n in kinds:
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = (labels[:, None, None] * 20 + rng.integers(0, 50, (n, 28, 28))).astype(np.uint8)
        write_idx(folder / mnist_mod.FILES[f"{kind}_images"], images)
        write_idx(folder / mnist_mod.FILES[f"{kind}_labels"], labels)
    return folder


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    monkeypatch.delenv("IEM_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == np.uint8:
        a = np.abs(a).astype(dtype)
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, a)
    b = read_idx(path)
    assert b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


def test_idx_parses_hand_written_bytes_and_rejects_corrupt_files(tmp_path):
    # magic 0x00000803 (ubyte, 3 dims), dims 1x2x2 big-endian, then 4 bytes
    raw = bytes([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 255])
    (tmp_path / "ok").write_bytes(raw)
    np.testing.assert_array_equal(read_idx(tmp_path / "ok"), [[[1, 2], [3, 255]]])
    (tmp_path / "short").write_bytes(raw[:-1])
    with pytest.raises(ValueError, match="holds 3 bytes"):
        read_idx(tmp_path / "short")
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")


def test_mnist_t10k_only_is_split_and_scaled(isolated):
    _fake_mnist(isolated / "data" / "mnist", n_test=50)
    ds = load_dataset("mnist", seed=0, data_dir=isolated / "data", download=False)
    assert ds.meta["source"] == "t10k-only"
    assert ds.X_train.shape == (40, 784) and ds.X_test.shape == (10, 784)
    assert ds.X_train.min() >= 0 and ds.X_train.max() <= 1
    labels = read_idx(isolated / "data" / "mnist" / mnist_mod.FILES["test_labels"])
    assert sorted(np.concatenate([ds.y_train, ds.y_test])) == sorted(labels)


def test_mnist_standard_split_and_env_var(isolated, monkeypatch):
    _fake_mnist(isolated / "env", n_test=20, n_train=30)
    monkeypatch.setenv("IEM_DATA", str(isolated / "env"))
    ds = load_dataset("mnist", seed=1, download=False, n_train=25)
    assert ds.meta["source"] == "train+t10k"
    assert ds.X_train.shape == (25, 784) and ds.X_test.shape == (20, 784)


def test_mnist_missing_says_where_to_put_files(isolated):
    with pytest.raises(MNISTNotFoundError, match=r"t10k-images-idx3-ubyte\.gz") as err:
        load_dataset("mnist", download=False)
    assert str(isolated / "cache" / "implicit_em") in str(err.value)


def test_download_verifies_checksums_from_a_local_mirror(isolated, monkeypatch):
    mirror = _fake_mnist(isolated / "mirror", n_test=12, n_train=12)
    sums = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in mirror.iterdir()}
    monkeypatch.setattr(mnist_mod, "MD5", sums)
    dest = download_mnist(isolated / "dl", base_url=mirror.as_uri() + "/")
    assert sorted(p.name for p in dest.iterdir()) == sorted(sums)
    assert find_mnist(isolated / "dl") == (dest, True)
    # a corrupted mirror file is rejected and leaves nothing behind
    bad = isolated / "bad"
    _fake_mnist(bad, n_test=12, n_train=12, seed=1)
    with pytest.raises(OSError, match="checksum mismatch"):
        download_mnist(isolated / "dl2", base_url=bad.as_uri() + "/")
    assert not any((isolated / "dl2").iterdir())


def test_failed_download_gives_clear_error(isolated, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(mnist_mod, "download_mnist", refuse)
    with pytest.raises(MNISTNotFoundError, match="Download failed: network unreachable"):
        load_dataset("mnist")


def test_real_mnist_test_set(real_mnist_dir):
    ds = load_dataset("mnist", seed=0, data_dir=real_mnist_dir, download=False)
    n = len(ds.X_train) + len(ds.X_test)
    assert ds.X_train.shape[1] == 784 and n in (10000, 70000)
    assert set(np.unique(ds.y_train)) == set(range(10))
    files = {p.name for p in real_mnist_dir.iterdir()}
    for name in files & set(mnist_mod.MD5):
        assert mnist_mod.md5(real_mnist_dir / name) == mnist_mod.MD5[name]
    with gzip.open(real_mnist_dir / mnist_mod.FILES["test_images"]) as f:
        assert f.read(4) == b"\x00\x00\x08\x03"


def test_mnist_truncated_gzip_names_the_file(isolated):
    folder = _fake_mnist(isolated / "data" / "mnist", n_test=50)
    path = folder / mnist_mod.FILES["test_images"]
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match=rf"{path.name} is a damaged gzip file"):
        load_dataset("mnist", data_dir=isolated / "data", download=False)
    path.write_bytes(b"\x1f\x8b" + b"\x00" * 40)  # a gzip magic, then garbage
    with pytest.raises(ValueError, match=rf"{path.name} is a damaged gzip file"):
        read_idx(path)


def test_mnist_labels_outside_0_to_9_are_refused(isolated):
    folder = _fake_mnist(isolated / "data" / "mnist", n_test=50)
    path = folder / mnist_mod.FILES["test_labels"]
    labels = read_idx(path).copy()
    labels[[3, 7]] = [10, 200]
    write_idx(path, labels)
    with pytest.raises(ValueError, match=rf"{path.name}: 2 label\(s\) outside 0-9 \(largest 200"):
        load_dataset("mnist", data_dir=isolated / "data", download=False)
    write_idx(path, labels.astype(np.int32))
    with pytest.raises(ValueError, match="unsigned bytes"):
        load_dataset("mnist", data_dir=isolated / "data", download=False)
