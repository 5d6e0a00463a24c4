"""Loss values on known logits equal hand computations."""

import math

import pytest
import torch

from gan_lab.errors import UserError
from gan_lab.losses import BCELoss, HingeLoss, LeastSquaresLoss


class FixedScores(torch.nn.Module):
    """A 'discriminator' that returns preset scores for real (first call) and fake inputs."""

    def __init__(self, real, fake):
        super().__init__()
        self.real, self.fake = torch.tensor(real), torch.tensor(fake)

    def forward(self, x, cond=None):
        return self.real if x.sum() > 0 else self.fake


REAL, FAKE = torch.ones(2, 1, 2, 2), -torch.ones(2, 1, 2, 2)


def softplus(x):
    return math.log1p(math.exp(x))


def test_bce_values_and_one_sided_label_smoothing():
    D = FixedScores([2.0, -1.0], [0.5, -3.0])
    d_loss, _ = BCELoss().discriminator_loss(D, REAL, FAKE, None)
    expected = (softplus(-2.0) + softplus(1.0)) / 2 + (softplus(0.5) + softplus(-3.0)) / 2
    assert d_loss.item() == pytest.approx(expected, rel=1e-6)

    smooth, _ = BCELoss(real_label=0.9).discriminator_loss(D, REAL, FAKE, None)
    # BCE(l, t) = softplus(-l) + (1 - t) * l, so smoothing real targets by 0.1 adds 0.1 * mean(real logits).
    assert (smooth - d_loss).item() == pytest.approx(0.1 * (2.0 - 1.0) / 2, rel=1e-5)

    g_loss, _ = BCELoss().generator_loss(D, FAKE, None, REAL)
    assert g_loss.item() == pytest.approx((softplus(-0.5) + softplus(3.0)) / 2, rel=1e-6)
    # One-sided: the generator's target stays 1 under smoothing (Salimans et al. 2016).
    smooth_g, _ = BCELoss(real_label=0.9).generator_loss(D, FAKE, None, REAL)
    assert smooth_g.item() == pytest.approx(g_loss.item(), rel=1e-7)


def test_label_smoothing_out_of_range_is_rejected():
    with pytest.raises(UserError, match="real_label"):
        BCELoss(real_label=1.5)


def test_hinge_values():
    D = FixedScores([2.0, 0.5], [-0.5, 1.0])
    d_loss, logs = HingeLoss().discriminator_loss(D, REAL, FAKE, None)
    assert d_loss.item() == pytest.approx((0.0 + 0.5) / 2 + (0.5 + 2.0) / 2)
    assert logs["d_real"].item() == pytest.approx(1.25)
    g_loss, _ = HingeLoss().generator_loss(D, FAKE, None, REAL)
    assert g_loss.item() == pytest.approx(-0.25)


def test_least_squares_values():
    D = FixedScores([1.0, 3.0], [0.0, 2.0])
    d_loss, _ = LeastSquaresLoss().discriminator_loss(D, REAL, FAKE, None)
    assert d_loss.item() == pytest.approx(0.5 * (0 + 4) / 2 + 0.5 * (0 + 4) / 2)
    g_loss, _ = LeastSquaresLoss().generator_loss(D, FAKE, None, REAL)
    assert g_loss.item() == pytest.approx(0.5 * (1 + 1) / 2)
