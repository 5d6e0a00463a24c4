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


def forward_before_the_synthesis_hook(G, z):
    """The generator's forward as it was before synthesis took per-layer noise (commit 8fd6b0d), written out
    from its parts: the new forward must compute exactly this, draw for draw."""
    styles = G.layer_styles(z)
    x = G.const.expand(z.shape[0], -1, -1, -1)
    rgb = None
    for i, res in enumerate(G.resolutions):
        if res > 4:
            x = torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        for j in (2 * i, 2 * i + 1):
            layer = G.layers[j]
            h = layer.conv(x)
            h = h + layer.noise.weight * torch.randn(h.shape[0], 1, h.shape[2], h.shape[3], dtype=h.dtype)
            x = layer.adain(torch.nn.functional.leaky_relu(h, 0.2), styles[j])
        out = G.to_rgb[i](x)
        rgb = out if rgb is None else torch.nn.functional.interpolate(
            rgb, scale_factor=2, mode="bilinear", align_corners=False) + out
    return torch.tanh(rgb)


@pytest.mark.parametrize("training", [False, True])
def test_the_default_forward_is_bit_identical_to_the_one_before_the_synthesis_hook(training):
    torch.manual_seed(0)
    G, _ = tiny_pair(16, style_mixing_prob=1.0 if training else 0.0)
    for layer in G.layers:
        layer.noise.weight.data.normal_()  # noise that shows (zero at init)
    G.train(training)
    z = torch.randn(3, 8)
    with torch.no_grad():
        torch.manual_seed(7)
        new = G(z)
        torch.manual_seed(7)
        old = forward_before_the_synthesis_hook(G, z)
        torch.manual_seed(8)
        other = G(z)
    assert torch.equal(new, old)
    assert not torch.equal(new, other)  # the noise (and in training the mixing) really drew from the seed


def test_synthesis_takes_a_per_layer_w_tensor_and_given_noise_maps():
    torch.manual_seed(0)
    G, _ = tiny_pair(16, style_mixing_prob=0.0)
    for layer in G.layers:
        layer.noise.weight.data.fill_(0.5)
    G.eval()
    z = torch.randn(2, 8)
    w = G.mapping(z)
    with torch.no_grad():
        styles = torch.stack([w] * G.num_layers, dim=1)  # (N, num_layers, w_dim)
        assert styles.shape == (2, G.num_layers, 8)
        # the noise the default draws: per layer, in order, (N, 1, res, res)
        torch.manual_seed(3)
        drawn = [torch.randn(2, 1, r, r) for r in G.layer_resolutions]
        torch.manual_seed(3)
        assert torch.equal(G.synthesis(styles, drawn), G(z))
        assert torch.equal(G.synthesis([w] * G.num_layers, drawn), G.synthesis(styles, drawn))
        zero = [torch.zeros(1, 1, r, r) for r in G.layer_resolutions]  # broadcast over the batch
        assert torch.equal(G.synthesis(styles, zero), G.synthesis(styles, zero))  # given noise: no draws inside
        assert not torch.equal(G.synthesis(styles, zero), G.synthesis(styles, drawn))
        with pytest.raises(ValueError, match="one style"):
            G.synthesis([w] * (G.num_layers - 1))


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
