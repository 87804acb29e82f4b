"""Baselines: the local and unsupervised learners implicit-EM layers are measured
against, each a scikit-learn-style ``fit`` / ``transform`` on tensors.

:class:`TriangleKMeans` (Coates & Ng), :class:`KrotovHopfield` (competing hidden units),
:class:`SoftHebb` (soft winner-take-all Hebbian), :class:`DecoderFreeEncoder` (the
theory's author's encoder), :class:`SparseAutoencoder`, :class:`PCA` and
:class:`BackpropMLP` (end-to-end, supervised); and :class:`ImplicitEMFeatures`, the
implicit-EM layer by the same interface. Convolutional blocks (``nn.Module``):
:class:`SoftHebbConv2d` (SoftHebb's conv layer, ``learn(x)`` a Hebbian step) and
:class:`ConvTriangleKMeans` (Coates & Ng on patches, ``fit(x)``). Each module also
holds its rule as a plain function (``triangle_kmeans.triangle_features``,
``krotov_hopfield.krotov_update``, ``softhebb.softhebb_update``,
``softhebb_conv.softhebb_conv_update``, ``decoder_free_encoder.encoder_loss``).
"""

from .backprop_mlp import BackpropMLP
from .base import FeatureLearner
from .conv_kmeans import ConvTriangleKMeans
from .decoder_free_encoder import DecoderFreeEncoder
from .implicit_em_features import ImplicitEMFeatures
from .krotov_hopfield import KrotovHopfield
from .pca import PCA
from .softhebb import SoftHebb
from .softhebb_conv import SoftHebbConv2d
from .sparse_autoencoder import SparseAutoencoder
from .triangle_kmeans import TriangleKMeans

__all__ = [
    "PCA",
    "BackpropMLP",
    "ConvTriangleKMeans",
    "DecoderFreeEncoder",
    "FeatureLearner",
    "ImplicitEMFeatures",
    "KrotovHopfield",
    "SoftHebb",
    "SoftHebbConv2d",
    "SparseAutoencoder",
    "TriangleKMeans",
]
