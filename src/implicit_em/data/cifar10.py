r"""CIFAR-10 from its standard python-pickle batches, when the files are there.

The folder ``cifar-10-batches-py`` (``data_batch_1`` ... ``data_batch_5``,
``test_batch``; each a pickled dict with ``b"data"``, ``(10000, 3072)`` uint8 in
channel-major order, and ``b"labels"``) is searched in ``data_dir``, then ``$IEM_DATA``,
then the cache folder, each as is and with ``cifar-10-batches-py`` or ``cifar10``
appended. Nothing is downloaded: there is no network here, and the experiments say
plainly when the files are missing.

Every file's MD5 is compared with the official one (the values torchvision checks);
``meta["standard"]`` says whether all matched. Files are unpickled by a restricted
unpickler that builds only dicts, lists, bytes, strings, numbers and NumPy arrays, so a
tampered file cannot run code.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_count
from . import mnist
from .dataset import Dataset

TRAIN = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5")
TEST = ("test_batch",)
MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
SUBFOLDERS = ("", "cifar-10-batches-py", "cifar10", "cifar10/cifar-10-batches-py")
SHAPE = (3, 32, 32)
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}  # fmt: skip


_DAMAGE = (pickle.UnpicklingError, EOFError, ValueError, TypeError, OverflowError, MemoryError,
           AttributeError, KeyError, IndexError, UnicodeDecodeError)  # fmt: skip


class CIFAR10NotFoundError(FileNotFoundError):
    """No folder holds the CIFAR-10 batches."""


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(
                f"a CIFAR-10 batch holds only arrays and lists; this file asks for "
                f"{module}.{name}: it is not a CIFAR-10 batch"
            )
        return super().find_class(module, name)


def search_dirs(data_dir: str | Path | None = None) -> list[Path]:
    """The folders searched for the batches, in order (MNIST's order, other subfolders)."""
    return mnist.search_dirs(data_dir, SUBFOLDERS)


def find_cifar10(data_dir: str | Path | None = None) -> Path | None:
    """The first folder with every batch, or ``None``."""
    for folder in search_dirs(data_dir):
        if all((folder / name).is_file() for name in TRAIN + TEST):
            return folder
    return None


def is_official(folder: str | Path) -> bool:
    """Whether every batch in ``folder`` has its official MD5 (reads ~180 MB once)."""
    return all(
        hashlib.md5((Path(folder) / name).read_bytes()).hexdigest() == MD5[name]
        for name in TRAIN + TEST
    )


def describe_cifar10(folder: str | Path) -> str:
    """The report's name for the batches in ``folder``: CIFAR-10 only when every MD5 is
    the official one."""
    if is_official(folder):
        return "CIFAR-10 (official content, MD5-verified)"
    return (f"CIFAR-10-format batches in {folder} whose MD5s are not the official ones (not "
            "CIFAR-10: results are not comparable with published numbers)")  # fmt: skip


def read_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(images (n, 3, 32, 32) uint8, labels (n,) int64, official)`` of one batch file."""
    path = Path(path)
    raw = path.read_bytes()
    official = hashlib.md5(raw).hexdigest() == MD5.get(path.name)
    try:
        batch = _Restricted(io.BytesIO(raw), encoding="bytes").load()
    except _DAMAGE as err:  # a damaged length field asks for petabytes, or overflows
        raise ValueError(
            f"{path}: not a CIFAR-10 pickle batch ({type(err).__name__}: {err}); replace "
            "the file with the official one"
        ) from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(f"{path}: a CIFAR-10 batch is a dict with b'data' and b'labels'")
    data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"], dtype=object)
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v <= 9
               for v in labels.flat):  # fmt: skip
        raise ValueError(f"{path}: b'labels' must be integers 0-9")
    labels = labels.astype(np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != int(np.prod(SHAPE)):
        raise ValueError(f"{path}: b'data' must be (n, 3072) uint8, got {data.shape} {data.dtype}")
    if labels.shape != (len(data),) or (len(labels) and not 0 <= labels.min() <= labels.max() <= 9):
        raise ValueError(f"{path}: b'labels' must be {len(data)} labels in 0-9")
    return data.reshape(-1, *SHAPE), labels.astype(np.int64), official


def cifar10(
    *,
    seed: int = 0,
    data_dir: str | Path | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
) -> Dataset:
    """CIFAR-10 as ``(n, 3072)`` float32 in ``[0, 1]`` (channel-major: reshape to
    ``(n, 3, 32, 32)``, ``meta["image_shape"]``) with int64 labels.

    Args:
        seed: seeds the sub-sampling.
        data_dir: a folder to search first.
        n_train: optional training sub-sample (of the 50k).
        n_test: optional test sub-sample (of the 10k).

    Raises:
        CIFAR10NotFoundError: no folder holds the six batches; the message lists where
            they were looked for.
        ValueError: a batch is not a CIFAR-10 pickle batch, or ``n_train``/``n_test``
            is not an integer >= 1.

    Warns:
        UserWarning: a batch's MD5 is not the official one (``meta["standard"]`` is then
            ``False``; the files are used, and named as not CIFAR-10 in reports).
    """
    n_train = None if n_train is None else check_count(n_train, "n_train")
    n_test = None if n_test is None else check_count(n_test, "n_test")
    folder = find_cifar10(data_dir)
    if folder is None:
        where = ", ".join(str(d) for d in search_dirs(data_dir))
        raise CIFAR10NotFoundError(
            "CIFAR-10's python batches (cifar-10-batches-py: data_batch_1..5, test_batch) "
            f"were not found in: {where}. Put them in one of these folders or set IEM_DATA."
        )
    rng = np.random.default_rng(seed)
    parts, official = {}, []
    for kind, names, n in (("train", TRAIN, n_train), ("test", TEST, n_test)):
        batches = [read_batch(folder / name) for name in names]
        official += [b[2] for b in batches]
        x = np.concatenate([b[0] for b in batches])
        y = np.concatenate([b[1] for b in batches])
        if n is not None and n < len(x):
            keep = np.sort(rng.choice(len(x), n, replace=False))
            x, y = x[keep], y[keep]
        parts[kind] = (x.reshape(len(x), -1).astype(np.float32) / 255, y)
    if not all(official):
        bad = [n for n, ok in zip(TRAIN + TEST, official, strict=True) if not ok]
        warnings.warn(f"{folder}: {', '.join(bad)} differ from the official CIFAR-10 batches "
                      "(MD5); they are used as given, and results are not CIFAR-10's",
                      UserWarning, stacklevel=2)  # fmt: skip
    return Dataset("cifar10", parts["train"][0], parts["train"][1], parts["test"][0],
                   parts["test"][1], meta={"folder": str(folder), "standard": all(official),
                                           "image_shape": SHAPE})  # fmt: skip
