"""The decoder-free encoder's loss against the author's formula."""

import numpy as np
import torch

from implicit_em.baselines.decoder_free_encoder import encoder_loss


def test_encoder_loss_is_the_authors_formula():
    a = torch.relu(torch.randn(64, 5, dtype=torch.float64)) + 0.01
    an = a.numpy()
    lse = -np.log(np.exp(-an).sum(1)).sum()
    var = -np.log(an.var(0, ddof=1) + 1e-6).sum()
    corr = np.corrcoef(an.T)
    tc = (corr**2).sum() - np.trace(corr**2)
    terms = encoder_loss(a)
    np.testing.assert_allclose(float(terms["lse"]), lse, rtol=1e-10)
    np.testing.assert_allclose(float(terms["var"]), var, rtol=1e-10)
    # the library's correlation divides by sqrt(Var + 1e-6), the author's by std + 1e-8
    np.testing.assert_allclose(float(terms["tc"]), tc, rtol=1e-4)
    sd = np.sqrt(an.var(0, ddof=1) + 1e-6)
    c6 = np.cov(an.T) / sd[:, None] / sd[None]
    np.testing.assert_allclose(float(terms["tc"]), (c6**2).sum() - np.trace(c6**2), rtol=1e-10)
    assert set(encoder_loss(a, var=0, tc=0)) == {"lse"}
