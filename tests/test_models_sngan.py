"""SN-GAN's standard CNN: shapes, and the paper's widths at base_width 64."""

import pytest
import torch
from torch import nn

from gan_lab.errors import UserError
from gan_lab.models.sngan import SNGANDiscriminator, SNGANGenerator


@pytest.mark.parametrize("size, channels", [(32, 3), (16, 3), (32, 1)])
def test_sngan_shapes(size, channels):
    G = SNGANGenerator(latent_dim=8, channels=channels, image_size=size, base_width=4)
    D = SNGANDiscriminator(channels=channels, image_size=size, base_width=4)
    x = G(torch.randn(5, 8))
    assert x.shape == (5, channels, size, size) and x.min() >= -1 and x.max() <= 1
    assert D(x).shape == (5,)


def test_sngan_has_the_paper_widths_at_32():
    G, D = SNGANGenerator(), SNGANDiscriminator()
    assert G.project.out_features == 4 * 4 * 512
    assert [m.out_channels for m in G.net if isinstance(m, (nn.ConvTranspose2d, nn.Conv2d))] == [256, 128, 64, 3]
    convs = [m for m in D.features if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in convs] == [64, 64, 128, 128, 256, 256, 512]
    assert [m.kernel_size[0] for m in convs] == [3, 4, 3, 4, 3, 4, 3]
    assert D.head.in_features == 512 * 4 * 4


def test_impossible_image_size_is_a_clear_error():
    with pytest.raises(UserError, match="SNGANDiscriminator cannot produce 28x28"):
        SNGANDiscriminator(image_size=28)
