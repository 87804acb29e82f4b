"""MNIST from the standard IDX files (optionally gzipped).

Files are looked for, in order, in ``data_dir`` (argument or ``iem run --data-dir``),
``$IEM_DATA`` and the cache directory (``$XDG_CACHE_HOME/implicit_em`` or
``~/.cache/implicit_em``), each either directly or in a ``mnist/`` sub-folder. When none
has them and ``download=True``, they are downloaded into the cache and verified against
their MD5 checksums; without a network the error says where to put the files.

When only the 10k test files are present (``t10k-*``), they are split into train/test
with the seed and ``meta["source"] == "t10k-only"`` records it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from .dataset import Dataset, check_count, split

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"

# IDX type byte -> big-endian numpy dtype
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_TYPES.items()}


class MNISTNotFoundError(FileNotFoundError):
    """No MNIST files were found and none could be downloaded."""


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (raw or gzip) into a native-endian numpy array.

    Format: two zero bytes, a type byte, the number of dimensions, each dimension as a
    big-endian uint32, then the data in big-endian order.
    """
    path = Path(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as err:  # truncated or corrupt stream
            raise ValueError(
                f"{path} is a damaged gzip file ({err}); download it again or replace it"
            ) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4]!r})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: IDX header announces shape {shape} ({expected} bytes of data) but the "
            f"file holds {len(raw) - header} bytes"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``)."""
    array = np.asarray(array)
    code = _IDX_CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


def cache_dir() -> Path:
    """Where downloaded MNIST files are kept (``IEM_CACHE`` or the user cache folder)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "implicit_em"


def search_dirs(data_dir: str | Path | None = None) -> list[Path]:
    """The folders searched for MNIST files, in order."""
    roots = [data_dir, os.environ.get("IEM_DATA"), cache_dir()]
    dirs = []
    for root in roots:
        if root:
            dirs += [Path(root), Path(root) / "mnist"]
    return dirs


def _has(folder: Path, keys) -> bool:
    return all((folder / FILES[k]).is_file() for k in keys)


def find_mnist(data_dir: str | Path | None = None) -> tuple[Path, bool] | None:
    """``(folder, has_train_files)`` of the first folder with MNIST test files, or ``None``."""
    for folder in search_dirs(data_dir):
        if _has(folder, ("test_images", "test_labels")):
            return folder, _has(folder, ("train_images", "train_labels"))
    return None


def md5(path: str | Path) -> str:
    """Hex MD5 digest of the file at ``path`` (read in chunks)."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download_mnist(
    dest: str | Path | None = None, *, base_url: str = MIRROR, timeout: float = 30.0
) -> Path:
    """Download the four MNIST files into ``dest`` (default: the cache), verifying MD5s.

    Each file is written to a temporary name and moved into place only after its
    checksum matches, so an interrupted download never leaves a corrupt file behind.
    """
    dest = Path(dest) if dest is not None else cache_dir() / "mnist"
    dest.mkdir(parents=True, exist_ok=True)
    for name in FILES.values():
        target = dest / name
        if target.is_file() and md5(target) == MD5[name]:
            continue
        fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{name}.")
        try:
            with (
                os.fdopen(fd, "wb") as out,
                urllib.request.urlopen(base_url + name, timeout=timeout) as response,
            ):
                shutil.copyfileobj(response, out)
            got = md5(tmp)
            if got != MD5[name]:
                raise OSError(f"checksum mismatch for {name}: expected {MD5[name]}, got {got}")
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return dest


def _not_found(data_dir, reason: str = "") -> MNISTNotFoundError:
    where = "\n  ".join(str(p) for p in search_dirs(data_dir))
    return MNISTNotFoundError(
        "MNIST files not found. Put the IDX files ("
        + ", ".join(FILES.values())
        + ") in one of:\n  "
        + where
        + "\nor point IEM_DATA / --data-dir at their folder."
        + (f"\nDownload failed: {reason}" if reason else "")
    )


def mnist(
    *,
    seed: int = 0,
    data_dir: str | Path | None = None,
    download: bool = True,
    n_train: int | None = None,
    n_test: int | None = None,
    test_fraction: float = 0.2,
) -> Dataset:
    """MNIST digits as ``(n, 784)`` float32 in ``[0, 1]`` with int64 labels.

    Args:
        seed: seeds the sub-sampling (``n_train``/``n_test``) and the t10k-only split.
        data_dir: a folder to search first (see the module docstring for the order).
        download: try a checksum-verified download when no files are found.
        n_train: optional training sub-sample size (deterministic given ``seed``).
        n_test: optional test sub-sample size (deterministic given ``seed``).
        test_fraction: test share when only the t10k files are present.

    Raises:
        MNISTNotFoundError: no files found and none could be downloaded; the message
            lists where to put them.
    """
    found = find_mnist(data_dir)
    if found is None:
        if not download:
            raise _not_found(data_dir)
        try:
            download_mnist()
        except OSError as err:  # URLError, timeouts, checksum mismatch
            raise _not_found(data_dir, str(err)) from err
        found = find_mnist(data_dir)
        if found is None:  # pragma: no cover - download_mnist wrote the files
            raise _not_found(data_dir)
    folder, has_train = found
    rng = np.random.default_rng(seed)

    def load(kind):
        images = read_idx(folder / FILES[f"{kind}_images"])
        labels = read_idx(folder / FILES[f"{kind}_labels"])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(
                f"{folder}: expected images (n, rows, cols) and labels (n,), got "
                f"{images.shape} and {labels.shape}"
            )
        if images.dtype != np.uint8 or labels.dtype != np.uint8:
            raise ValueError(
                f"{folder}: MNIST images and labels are unsigned bytes, got {images.dtype} "
                f"and {labels.dtype}"
            )
        if len(labels) and int(labels.max()) > 9:
            bad = int((labels > 9).sum())
            raise ValueError(
                f"{folder / FILES[f'{kind}_labels']}: {bad} label(s) outside 0-9 (largest "
                f"{int(labels.max())}); the file is damaged or not MNIST"
            )
        return images.reshape(len(images), -1).astype(np.float32) / 255.0, labels

    meta = {"folder": str(folder)}
    if has_train:
        (X_tr, y_tr), (X_te, y_te) = load("train"), load("test")
        ds = Dataset("mnist", X_tr, y_tr.astype(np.int64), X_te, y_te.astype(np.int64))
        ds.meta = dict(meta, source="train+t10k")
    else:
        X, y = load("test")
        ds = split("mnist", X, y, rng, test_fraction, dict(meta, source="t10k-only"))
    assert ds.y_train is not None  # MNIST is labelled
    assert ds.y_test is not None
    if n_train is not None:
        idx = rng.permutation(len(ds.X_train))[: check_count(n_train, "n_train")]
        ds.X_train, ds.y_train = ds.X_train[idx], ds.y_train[idx]
    if n_test is not None:
        idx = rng.permutation(len(ds.X_test))[: check_count(n_test, "n_test")]
        ds.X_test, ds.y_test = ds.X_test[idx], ds.y_test[idx]
    return ds
