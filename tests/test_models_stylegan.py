"""Mini StyleGAN: shapes per resolution, style mixing, noise, one training step, the R1 loss."""

import pytest
import torch

from gan_lab.losses import R1BCELoss
from gan_lab.models.stylegan import StyleGANDiscriminator, StyleGANGenerator, block_widths, minibatch_stddev

TINY = dict(latent_dim=8, w_dim=8, mapping_layers=2, base_width=4, max_width=8)


def tiny_pair(size=16, channels=3, **kwargs):
    G = StyleGANGenerator(channels=channels, image_size=size, **{**TINY, **kwargs})
    D = StyleGANDiscriminator(channels=channels, image_size=size, base_width=4, max_width=8)
    return G, D


@pytest.mark.parametrize("size", [8, 16, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_for_each_resolution(size, channels):
    G, D = tiny_pair(size, channels)
    images = G(torch.randn(4, 8))
    assert images.shape == (4, channels, size, size) and images.abs().max() <= 1
    assert D(images).shape == (4,)
    assert G.resolutions == [4 * 2**k for k in range(len(G.resolutions))][: len(G.resolutions)]
    assert G.resolutions[-1] == size and len(G.layers) == 2 * len(G.resolutions) == G.num_layers


def test_widths_double_per_halving_up_to_the_cap():
    assert block_widths(32, base_width=32, max_width=128) == {4: 128, 8: 128, 16: 64, 32: 32}


def test_style_mixing_switches_w_at_one_layer_in_training_only():
    torch.manual_seed(0)
    G, _ = tiny_pair(16, style_mixing_prob=1.0)
    z = torch.randn(2, 8)
    styles = G.layer_styles(z)
    w = G.mapping(z)
    first_other = next(i for i, s in enumerate(styles) if not torch.equal(s, w))
    assert 1 <= first_other < G.num_layers
    assert all(torch.equal(s, w) for s in styles[:first_other])
    assert all(torch.equal(s, styles[first_other]) for s in styles[first_other:])
    G.eval()
    assert all(torch.equal(s, w) for s in G.layer_styles(z))


def test_noise_injection_makes_outputs_stochastic_once_learned():
    torch.manual_seed(0)
    G, _ = tiny_pair(8, style_mixing_prob=0.0)
    z = torch.randn(2, 8)
    assert torch.equal(G(z), G(z))  # noise weights start at zero
    for layer in G.layers:
        layer.noise.weight.data.fill_(0.5)
    assert not torch.equal(G(z), G(z))


def test_minibatch_stddev_feature_is_the_group_std():
    x = torch.tensor([0.0, 0.0, 2.0, 2.0]).view(4, 1, 1, 1).expand(4, 1, 2, 2)
    out = minibatch_stddev(x, group_size=2)  # groups (x0, x2), (x1, x3) = (0, 2): std 1
    assert out.shape == (4, 2, 2, 2)
    assert torch.allclose(out[:, 1], torch.ones(4, 2, 2))
    assert minibatch_stddev(torch.randn(3, 2, 2, 2), group_size=4).shape == (3, 3, 2, 2)  # 3 % 4: group 3


def test_r1_penalty_matches_a_hand_computation():
    class Square(torch.nn.Module):
        def forward(self, x, cond=None):
            return 0.5 * x.flatten(1).pow(2).sum(1)  # grad = x, so R1 = mean ||x||^2

    real = torch.tensor([[3.0, 4.0], [1.0, 0.0]]).view(2, 2, 1, 1)
    fake = torch.zeros(2, 2, 1, 1)
    loss, logs = R1BCELoss(r1_gamma=2.0).discriminator_loss(Square(), real, fake, None)
    assert logs["r1"].item() == pytest.approx(13.0, rel=1e-5)  # (25 + 1) / 2
    logits_real = torch.tensor([12.5, 0.5])
    bce = torch.nn.functional.softplus(-logits_real).mean() + torch.nn.functional.softplus(torch.zeros(2)).mean()
    assert loss.item() == pytest.approx(bce.item() + 13.0, rel=1e-5)


def test_one_training_step_changes_generator_and_discriminator():
    torch.manual_seed(0)
    G, D = tiny_pair(8)
    opt_g = torch.optim.Adam(G.parameters(), 1e-2, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), 1e-2, betas=(0.0, 0.99))
    g_before = {n: p.clone() for n, p in G.named_parameters()}
    d_before = {n: p.clone() for n, p in D.named_parameters()}
    loss_fn, real = R1BCELoss(r1_gamma=1.0), torch.rand(4, 3, 8, 8) * 2 - 1
    fake = G(torch.randn(4, 8))
    d_loss, _ = loss_fn.discriminator_loss(D, real, fake.detach(), None)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss, _ = loss_fn.generator_loss(D, fake, None, real)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    assert [n for n, p in G.named_parameters() if torch.equal(p, g_before[n])] == []
    assert [n for n, p in D.named_parameters() if torch.equal(p, d_before[n])] == []
