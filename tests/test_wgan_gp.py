"""WGAN-GP: the penalty against hand computations, zero-gradient safety, and the conditional WGAN networks."""

import pytest
import torch
from torch import nn

from gan_lab.errors import UserError
from gan_lab.losses import WassersteinGPLoss, input_gradient_norm
from gan_lab.models.conditional import ConditionalDCGANDiscriminator, ConditionalDCGANGenerator


def LabelConcatGenerator(latent_dim, channels, image_size, base_width, num_classes):  # noqa: N802
    """The cwgan_gp_cifar10 generator (conf/model/cwgan.yaml) at test size."""
    return ConditionalDCGANGenerator(
        latent_dim=latent_dim, channels=channels, image_size=image_size, num_classes=num_classes, embed_dim=8,
        base_width=base_width,
    )


def ProjectionCritic(channels=3, image_size=8, base_width=4, num_classes=10, norm="layer"):  # noqa: N802
    """The cwgan_gp_cifar10 critic: DCGAN without BatchNorm plus a projection term."""
    return ConditionalDCGANDiscriminator(
        channels=channels, image_size=image_size, num_classes=num_classes, base_width=base_width, norm=norm,
        conditioning="projection",
    )



class LinearCritic(nn.Module):
    """D(x) = <w, x> + b: the gradient wrt x is w for every sample."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x, cond=None):
        return (x * self.w).flatten(1).sum(1) + 0.5


class SquareCritic(nn.Module):
    """D(x) = scale * ||x||^2 / 2: the gradient wrt x is scale * x, different for every sample."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x, cond=None):
        return 0.5 * self.scale * x.flatten(1).pow(2).sum(1)


def test_penalty_of_a_linear_critic_is_analytic():
    w = torch.arange(12.0).view(1, 3, 2, 2) / 20
    real, fake = torch.randn(5, 3, 2, 2), torch.randn(5, 3, 2, 2)
    gp = WassersteinGPLoss().gradient_penalty(LinearCritic(w), real, fake, None)
    assert gp.item() == pytest.approx((w.norm().item() - 1) ** 2, rel=1e-5)


def test_gradient_norm_is_per_sample_over_channels_height_width():
    x = torch.tensor([[3.0, 4.0], [1.0, 0.0]]).view(2, 2, 1, 1)  # per-sample norms 5 and 1
    norms = input_gradient_norm(SquareCritic(), x, None)
    assert norms.tolist() == pytest.approx([5.0, 1.0], rel=1e-5)
    # real == fake makes every interpolate equal to x whatever the weight: penalty = mean((5-1)^2, (1-1)^2) = 8
    gp = WassersteinGPLoss().gradient_penalty(SquareCritic(), x, x.clone(), None)
    assert gp.item() == pytest.approx(8.0, rel=1e-5)  # a norm over the whole batch would give (sqrt(26)-1)^2


def test_interpolation_weight_is_drawn_per_sample(monkeypatch):
    seen = []
    real_rand = torch.rand

    def spy(*shape, **kwargs):
        seen.append(tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple) else shape)
        return real_rand(*shape, **kwargs)

    monkeypatch.setattr(torch, "rand", spy)
    WassersteinGPLoss().gradient_penalty(SquareCritic(), torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2), None)
    assert seen == [(4, 1, 1, 1)]


def test_zero_gradient_gives_a_finite_penalty_and_weight_gradient():
    critic = LinearCritic(torch.zeros(1, 3, 2, 2))
    gp = WassersteinGPLoss().gradient_penalty(critic, torch.randn(3, 3, 2, 2), torch.randn(3, 3, 2, 2), None)
    gp.backward()
    assert gp.item() == pytest.approx(1.0, abs=1e-5)
    assert torch.isfinite(critic.w.grad).all() and critic.w.grad.abs().max() < 1e-3


def test_critic_loss_is_minus_wasserstein_plus_lambda_gp():
    w = torch.full((1, 1, 2, 2), 0.5)  # ||w|| = 1: zero penalty
    real, fake = torch.ones(4, 1, 2, 2), torch.zeros(4, 1, 2, 2)
    loss, logs = WassersteinGPLoss(gp_weight=10).discriminator_loss(LinearCritic(w), real, fake, None)
    assert logs["wasserstein"].item() == pytest.approx(2.0)  # D(1) - D(0) = sum(w) = 2
    assert logs["gp"].item() == pytest.approx(0.0, abs=1e-10)
    assert loss.item() == pytest.approx(-2.0)
    g_loss, _ = WassersteinGPLoss().generator_loss(LinearCritic(w), real, None, real)
    assert g_loss.item() == pytest.approx(-2.5)


def test_penalty_is_fp32_under_bf16_autocast():
    critic = ProjectionCritic(channels=3, image_size=8, base_width=4, num_classes=3)
    x = torch.randn(4, 3, 8, 8)
    labels = torch.tensor([0, 1, 2, 0])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, logs = WassersteinGPLoss().discriminator_loss(critic, x, x.flip(0), labels)
    assert logs["gp"].dtype == torch.float32 and torch.isfinite(loss)


@pytest.mark.parametrize("size", [8, 16, 32, 64])
def test_conditional_shapes(size):
    G = LabelConcatGenerator(latent_dim=8, channels=3, image_size=size, base_width=4, num_classes=10)
    D = ProjectionCritic(channels=3, image_size=size, base_width=4, num_classes=10)
    labels = torch.arange(4)
    images = G(torch.randn(4, 8), labels)
    assert images.shape == (4, 3, size, size) and images.abs().max() <= 1
    assert D(images, labels).shape == (4,)


def test_changing_only_the_label_changes_generator_and_critic_outputs():
    torch.manual_seed(0)
    G = LabelConcatGenerator(latent_dim=8, channels=3, image_size=8, base_width=4, num_classes=10).eval()
    D = ProjectionCritic(channels=3, image_size=8, base_width=4, num_classes=10)
    z, x = torch.randn(1, 8).repeat(2, 1), torch.randn(1, 3, 8, 8).repeat(2, 1, 1, 1)
    labels = torch.tensor([1, 7])
    images = G(z, labels)
    scores = D(x, labels)
    assert not torch.allclose(images[0], images[1]) and scores[0] != scores[1]


def test_conditional_networks_require_labels():
    G = LabelConcatGenerator(latent_dim=8, channels=3, image_size=8, base_width=4, num_classes=10)
    with pytest.raises(UserError, match="needs labels"):
        G(torch.randn(2, 8))
    with pytest.raises(UserError, match="needs labels"):
        ProjectionCritic()(torch.randn(2, 3, 8, 8))


def test_one_wgan_gp_step_changes_critic_and_generator():
    torch.manual_seed(0)
    G = LabelConcatGenerator(latent_dim=8, channels=3, image_size=8, base_width=4, num_classes=3)
    D = ProjectionCritic(channels=3, image_size=8, base_width=4, num_classes=3)
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.0, 0.9))
    g_before = [p.clone() for p in G.parameters()]
    d_before = [p.clone() for p in D.parameters()]
    loss_fn, labels, real = WassersteinGPLoss(), torch.tensor([0, 1, 2, 0]), torch.rand(4, 3, 8, 8) * 2 - 1
    fake = G(torch.randn(4, 8), labels)
    d_loss, _ = loss_fn.discriminator_loss(D, real, fake.detach(), labels)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss, _ = loss_fn.generator_loss(D, fake, labels, real)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    assert all(not torch.equal(a, b) for a, b in zip(g_before, G.parameters(), strict=True))
    assert all(not torch.equal(a, b) for a, b in zip(d_before, D.parameters(), strict=True))


def test_conditional_recipe_on_unlabelled_data_is_a_clear_error():
    from gan_lab.build import build_models
    from tests.conftest import compose

    cfg = compose(["experiment=cwgan_gp_cifar10", "dataset.num_classes=0"])
    with pytest.raises(UserError, match="labels missing"):
        build_models(cfg)


def test_penalty_is_taken_at_the_random_interpolates(monkeypatch):
    """SquareCritic's input gradient is x_hat itself: with fake = 0 and weights a, ||grad|| = a ||real||.
    On the fakes alone the penalty would be 1, on the reals alone 9; at the interpolates it is 3.5."""
    weights = torch.tensor([0.25, 0.5, 0.75, 1.0]).view(4, 1, 1, 1)
    monkeypatch.setattr(torch, "rand", lambda *shape, **kwargs: weights.clone())
    real = torch.zeros(4, 3, 2, 2)
    real[:, 1, 0, 1] = 4.0  # ||real_i|| = 4: norms 1, 2, 3, 4 -> penalties 0, 1, 4, 9
    gp = WassersteinGPLoss().gradient_penalty(SquareCritic(), real, torch.zeros_like(real), None)
    assert gp.item() == pytest.approx(3.5, rel=1e-5)


def test_a_batchnorm_critic_is_refused_unless_allowed():
    from gan_lab.build import build_loss
    from gan_lab.models.dcgan import DCGANDiscriminator
    from tests.conftest import compose

    batchnorm_critic = DCGANDiscriminator(channels=1, image_size=16, base_width=4, norm="batch")
    with pytest.raises(UserError, match=r"set model.discriminator.norm=layer, or loss.allow_batchnorm_critic=true"):
        build_loss(compose(["loss=wgan_gp"])).check_discriminator(batchnorm_critic)
    build_loss(compose(["loss=wgan_gp", "loss.allow_batchnorm_critic=true"])).check_discriminator(batchnorm_critic)
    WassersteinGPLoss().check_discriminator(DCGANDiscriminator(channels=1, image_size=16, base_width=4, norm="layer"))
    build_loss(compose(["loss=bce"])).check_discriminator(batchnorm_critic)  # other objectives take any D
