r"""Coates & Ng's convolutional triangle k-means (AISTATS 2011), as a conv block.

Fit: ``n_patches`` random ``k x k`` patches of the training images, each normalised
(``(p - mean(p)) / sqrt(var(p) + eps_norm)``), ZCA-whitened (``eps_zca`` added to the
eigenvalues) and clustered by k-means (:class:`TriangleKMeans` does all three). Features
at every location: the triangle ``max(0, mean_j z_j - z_k)`` with ``z_k`` the distance
of the whitened patch to centroid ``k``; then a pool -- Coates & Ng sum over the four
quadrants, ``pool=("quadrants", 2)``; inside a stack, the same pools as the other
learners' blocks.

Followed: the authors' ``kmeans_demo`` (6 x 6 patches of 0-255 pixels, ``var + 10``,
ZCA ``eps = 0.1``, 400k patches, 50 iterations). ``eps_norm`` here is for pixels in
``[0, 1]`` (``10 / 255²``); after the first block the inputs are features, whose scale
the per-patch normalisation removes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from typing_extensions import override

from .._checks import check_conv_geometry, check_count, check_images, check_number
from ..layers.pool import check_pool, pool2d
from .triangle_kmeans import TriangleKMeans, triangle_features


def quadrant_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum over the four quadrants: ``(n, K, H, W) -> (n, K, 2, 2)`` (odd sides: the
    middle row or column goes to the second half)."""
    h, w = x.shape[2] // 2, x.shape[3] // 2
    rows = torch.stack([x[:, :, :h].sum(2), x[:, :, h:].sum(2)], 2)  # (n, K, 2, W)
    return torch.stack([rows[..., :w].sum(-1), rows[..., w:].sum(-1)], -1)


class ConvTriangleKMeans(nn.Module):
    """Triangle k-means on the patches of images: a convolutional block.

    Args:
        in_channels: the input's channels ``C``.
        out_channels: the centroids ``K``.
        kernel_size: the patch side ``k``.
        padding: zero padding on each side.
        pool: ``None``, ``("quadrants", 2)`` (the authors' sum over quadrants), or
            ``(kind, size[, stride, padding])`` with kind ``"max" | "avg"``.
        n_patches: random patches k-means sees (the authors' 400k).
        eps_norm: the per-patch normalisation's regulariser.
        eps_zca: the whitening's regulariser (the authors' 0.1 for patches).
        max_iter: k-means iterations (the authors' 50).
        chunk: images per chunk when featurising (memory).
        seed: seeds the patches and the initial centroids.

    Shape:
        input ``(n, C, H, W)``; output ``(n, K, H', W')`` after the pool.

    Examples:
        >>> block = ConvTriangleKMeans(1, 4, 3, n_patches=500).fit(torch.rand(20, 1, 8, 8))
        >>> block(torch.rand(2, 1, 8, 8)).shape
        torch.Size([2, 4, 2, 2])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *,
                 padding: int = 0, pool: tuple | None = ("quadrants", 2),
                 n_patches: int = 400_000, eps_norm: float = 10 / 255**2,
                 eps_zca: float = 0.1, max_iter: int = 50, chunk: int = 256,
                 seed: int = 0):  # fmt: skip
        super().__init__()
        self.in_channels, self.kernel_size, self.padding = check_conv_geometry(
            in_channels, kernel_size, padding
        )
        self.pool = pool if pool == ("quadrants", 2) else check_pool(pool)
        self.n_patches = check_count(n_patches, "n_patches")
        self.chunk = check_count(chunk, "chunk")
        self.seed = seed
        self.kmeans = TriangleKMeans(out_channels, whiten="zca", eps_norm=eps_norm,
                                     eps_zca=check_number(eps_zca, "eps_zca"),
                                     max_iter=max_iter, seed=seed)  # fmt: skip

    @property
    def out_channels(self) -> int:
        """The centroids ``K``."""
        return self.kmeans.n_components

    def _patches(self, x: torch.Tensor) -> torch.Tensor:
        """Every patch of ``x``: ``(n, C k k, L)``."""
        check_images(x, self.in_channels, self.kernel_size, self.padding, learning=True)
        return F.unfold(x.float(), self.kernel_size, padding=self.padding)

    def fit(self, x: torch.Tensor) -> ConvTriangleKMeans:
        """k-means on ``n_patches`` random patches of the images ``x`` ``(n, C, H, W)``."""
        if len(x) == 0:
            raise ValueError("x holds no images (n = 0): pass at least one")
        g = torch.Generator().manual_seed(self.seed)
        picked = []
        per_chunk = max(1, self.n_patches * self.chunk // len(x) + 1)
        for start in range(0, len(x), self.chunk):  # chunks of images, not samples
            p = self._patches(x[start : start + self.chunk]).transpose(1, 2).flatten(0, 1)
            picked.append(p[torch.randint(len(p), (min(per_chunk, len(p)),), generator=g)])
        rows = torch.cat(picked)
        rows = rows[torch.randperm(len(rows), generator=g)[: self.n_patches]]
        self.kmeans.fit(rows)
        return self

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        km = self.kmeans
        if not hasattr(km, "centroids_"):
            raise RuntimeError("this ConvTriangleKMeans is not fitted yet: call fit(x) first")
        out = []
        side = [s + 2 * self.padding - self.kernel_size + 1 for s in x.shape[2:]]
        for start in range(0, len(x), self.chunk):  # chunks of images, not samples
            p = self._patches(x[start : start + self.chunk])
            n, _, locations = p.shape
            f = triangle_features(km._normalise(p.transpose(1, 2).flatten(0, 1)), km.centroids_)
            out.append(f.view(n, locations, -1).transpose(1, 2).reshape(n, -1, *side))
        maps = torch.cat(out)
        return quadrant_sum(maps) if self.pool == ("quadrants", 2) else pool2d(maps, self.pool)

    @override
    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"padding={self.padding}, pool={self.pool}, n_patches={self.n_patches}"
        )
