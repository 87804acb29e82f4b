"""CIFAR-10's pickle batches: loaded from small files the test writes; checksums; a
tampered or malformed file is refused; missing files are named."""

import os
import pickle

import numpy as np
import pytest

from implicit_em.data import CIFAR10NotFoundError, find_cifar10, load_dataset
from implicit_em.data.cifar10 import MD5, TEST, TRAIN, describe_cifar10, is_official, read_batch


def _write(folder, n=6, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for name in TRAIN + TEST:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n)]
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": b"x"}, f)
        truth[name] = (data, labels)
    return truth


def test_loads_the_batches_in_order_as_images(tmp_path):
    truth = _write(tmp_path / "cifar-10-batches-py")
    with pytest.warns(UserWarning, match="differ from the official CIFAR-10 batches"):
        ds = load_dataset("cifar10", data_dir=tmp_path)
    assert ds.X_train.shape == (30, 3072) and ds.X_test.shape == (6, 3072)
    want = np.concatenate([truth[n][0] for n in TRAIN]).astype(np.float32) / 255
    np.testing.assert_array_equal(ds.X_train, want)
    np.testing.assert_array_equal(ds.y_test, truth["test_batch"][1])
    assert ds.meta["image_shape"] == (3, 32, 32)
    # channel-major: the first 1024 values of a row are its red plane
    img = ds.X_train[0].reshape(3, 32, 32)
    np.testing.assert_allclose(img[0].ravel(), truth["data_batch_1"][0][0, :1024] / 255, rtol=1e-6)
    assert ds.meta["standard"] is False  # our files are not the official ones
    with pytest.warns(UserWarning, match="data_batch_1, data_batch_2"):
        sub = load_dataset("cifar10", data_dir=tmp_path, n_train=10, n_test=3, seed=1)
    assert sub.X_train.shape == (10, 3072) and sub.X_test.shape == (3, 3072)


def test_checksums_are_the_official_ones(tmp_path):
    assert set(MD5) == set(TRAIN + TEST) and all(len(v) == 32 for v in MD5.values())
    _write(tmp_path)
    assert read_batch(tmp_path / "test_batch")[2] is False


def test_found_through_iem_data(tmp_path, monkeypatch):
    _write(tmp_path / "cifar10")
    monkeypatch.setenv("IEM_DATA", str(tmp_path))
    assert find_cifar10() == tmp_path / "cifar10"


def test_missing_files_say_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("IEM_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert find_cifar10() is None
    with pytest.raises(CIFAR10NotFoundError, match="IEM_DATA"):
        load_dataset("cifar10")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo owned",))


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (_Evil(), "not a CIFAR-10"),
        ({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}, "3072"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 12]}, "0-9"),
        ([1, 2], "dict"),
    ],
)
def test_bad_batches_are_refused(tmp_path, content, match):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(content))
    with pytest.raises(ValueError, match=match):
        read_batch(path)


def test_files_that_are_not_the_official_batches_are_not_called_cifar10(tmp_path):
    """Issue 34: non-official files were used without a word and reported as CIFAR-10."""
    _write(tmp_path)
    assert not is_official(tmp_path)
    said = describe_cifar10(tmp_path)
    assert "not the official ones" in said and "not CIFAR-10" in said


def test_damaged_batches_give_one_clear_error(tmp_path):
    """Issue 34: truncated or flipped bytes gave raw OverflowError / MemoryError."""
    good = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]})
    rng = np.random.default_rng(0)
    damaged = [good[:k] for k in range(0, len(good), max(1, len(good) // 97))]
    for _ in range(150):
        raw = bytearray(good)
        at = rng.integers(0, len(raw), 3)
        raw[at[0]], raw[at[1]], raw[at[2]] = rng.integers(0, 256, 3).tolist()
        damaged.append(bytes(raw))
    damaged.append(b"\x80\x04\x95" + b"\xff" * 8 + b"B" + b"\xff" * 4)  # a huge length
    path = tmp_path / "data_batch_1"
    for raw in damaged:  # read, or refused with one ValueError naming the file
        path.write_bytes(raw)
        try:
            read_batch(path)
        except ValueError as err:
            said = str(err)
        else:
            said = str(path)
        assert str(path) in said


@pytest.mark.parametrize("option", ["n_train", "n_test"])
def test_an_empty_sub_sample_is_refused(tmp_path, option):
    _write(tmp_path)
    with pytest.raises(ValueError, match=f"{option} must be an integer >= 1, got 0"):
        load_dataset("cifar10", data_dir=tmp_path, **{option: 0})


@pytest.mark.parametrize(
    "labels", [[b"cat", b"dog"], ["cat", "dog"], [None, None], [1.5, 2], [2**70, 1]]
)
def test_labels_that_are_not_integers_are_refused(tmp_path, labels):
    """Round-three probe: raw UFuncTypeError / TypeError."""
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": labels}))
    with pytest.raises(ValueError, match="integers 0-9"):
        read_batch(path)
