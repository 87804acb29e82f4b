"""Datasets that work offline, deterministic by seed: see :func:`load_dataset`."""

from .cifar10 import CIFAR10NotFoundError, find_cifar10
from .dataset import Dataset, standardize
from .mnist import (
    MNISTNotFoundError,
    describe_mnist,
    download_mnist,
    fetch_mnist,
    find_mnist,
    read_idx,
    write_idx,
)
from .registry import DATASETS, list_datasets, load_dataset

__all__ = [
    "DATASETS",
    "CIFAR10NotFoundError",
    "Dataset",
    "MNISTNotFoundError",
    "describe_mnist",
    "download_mnist",
    "fetch_mnist",
    "find_cifar10",
    "find_mnist",
    "list_datasets",
    "load_dataset",
    "read_idx",
    "standardize",
    "write_idx",
]
