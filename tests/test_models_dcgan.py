import pytest
import torch

from gan_lab.errors import UserError
from gan_lab.models.blocks import num_doublings
from gan_lab.models.dcgan import DCGANDiscriminator, DCGANGenerator


@pytest.mark.parametrize("size, channels", [(32, 1), (64, 3), (16, 3)])
def test_dcgan_shapes(size, channels):
    G = DCGANGenerator(latent_dim=8, channels=channels, image_size=size, base_width=4)
    D = DCGANDiscriminator(channels=channels, image_size=size, base_width=4)
    x = G(torch.randn(5, 8))
    assert x.shape == (5, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert D(x).shape == (5,)


def test_dcgan_64_has_paper_widths():
    G = DCGANGenerator(latent_dim=100, channels=3, image_size=64, base_width=128)
    widths = [m.out_channels for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert widths == [1024, 512, 256, 128, 3]


@pytest.mark.parametrize("size", [28, 0, 48])
def test_impossible_image_size_is_a_clear_error(size):
    with pytest.raises(UserError, match="cannot produce"):
        DCGANGenerator(image_size=size)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("size", [32, 64])
def test_upsample_conv_generator_shapes(mode, size):
    torch.manual_seed(0)
    G = DCGANGenerator(latent_dim=8, channels=3, image_size=size, base_width=4, upsample=mode)
    x = G(torch.randn(3, 8))
    assert x.shape == (3, 3, size, size)
    # only the 1x1 -> 4x4 projection stays transposed; every 2x step is resize + 3x3 conv
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in G.modules()) == 1
    assert sum(isinstance(m, torch.nn.Upsample) for m in G.modules()) == num_doublings(size)


def test_unknown_upsample_is_a_clear_error():
    with pytest.raises(UserError, match="unknown upsample 'nearst'; use one of transposed, nearest, bilinear"):
        DCGANGenerator(upsample="nearst")
