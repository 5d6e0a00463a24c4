"""pix2pix (Isola et al. 2017): a U-Net generator and a 70x70 PatchGAN discriminator.

The generator has no latent input (latent_dim = 0): it translates the source
image passed as `cond`, and its only noise is dropout in the first decoder
blocks. The discriminator judges (source, image) pairs concatenated on
channels and returns a map of logits, one per overlapping 70x70 patch.

Layout follows the reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix):
unet_256 has 8 down-samplings to 1x1, unet_128 has 7; encoder widths
ngf, 2ngf, 4ngf, 8ngf, 8ngf, ...; the innermost layer has no norm; dropout 0.5
sits in the (depth - 5) decoder blocks after the innermost one (3 for 256).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gan_lab.errors import UserError
from gan_lab.models.blocks import init_dcgan_weights


def unet_depth(image_size: int) -> int:
    """Down-samplings that take image_size to 1x1 (8 for 256, 7 for 128)."""
    depth = math.log2(image_size) if image_size > 0 else 0
    if depth != int(depth) or depth < 5:
        raise UserError(
            f"the U-Net generator needs a power-of-two image size >= 32 (128 and 256 are the presets), "
            f"got {image_size}; set dataset.image_size"
        )
    return int(depth)


class UNetGenerator(nn.Module):
    latent_dim = 0  # no z: the trainer passes z=None; dropout is the noise
    num_classes = 0
    condition = "image"  # it translates a source image (gan_lab.build.check_compatible)

    def __init__(
        self,
        channels: int = 3,  # channels of the generated image
        source_channels: int | None = None,  # channels of the input image; None = channels
        image_size: int = 256,
        base_width: int = 64,
        dropout: float = 0.5,
    ):
        super().__init__()
        self.channels = channels
        self.source_channels = source_channels or channels
        self.image_size = image_size
        depth = unet_depth(image_size)
        widths = [base_width * min(2**i, 8) for i in range(depth)]  # encoder output width per level

        self.encoders = nn.ModuleList()
        for i, width in enumerate(widths):
            # No bias in any down-convolution, as the reference's BatchNorm U-Net (use_bias is False there,
            # also for the outermost and innermost ones, which have no norm after them).
            if i == 0:  # outermost: no activation before, no norm after
                block = [nn.Conv2d(self.source_channels, width, 4, 2, 1, bias=False)]
            else:
                block = [nn.LeakyReLU(0.2), nn.Conv2d(widths[i - 1], width, 4, 2, 1, bias=False)]
                if i < depth - 1:  # innermost (1x1): no norm, BatchNorm of one value per image makes no sense
                    block.append(nn.BatchNorm2d(width))
            self.encoders.append(nn.Sequential(*block))

        # decoders[i] undoes encoders[i]; its input is the previous decoder's output concatenated with the skip.
        self.decoders = nn.ModuleList()
        for i, width in enumerate(widths):
            in_width = width if i == depth - 1 else 2 * width
            if i == 0:
                block = [nn.ReLU(), nn.ConvTranspose2d(in_width, channels, 4, 2, 1), nn.Tanh()]
            else:
                block = [nn.ReLU(), nn.ConvTranspose2d(in_width, widths[i - 1], 4, 2, 1, bias=False)]
                block.append(nn.BatchNorm2d(widths[i - 1]))
                if dropout > 0 and 4 <= i <= depth - 2:  # the depth-5 blocks right after the innermost
                    block.append(nn.Dropout(dropout))
            self.decoders.append(nn.Sequential(*block))
        init_dcgan_weights(self)

    def forward(self, z: Tensor | None, cond: Tensor | None = None) -> Tensor:
        if cond is None:
            raise ValueError("UNetGenerator translates a source image: pass it as cond")
        skips = []
        x = cond
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
        x = self.decoders[-1](skips.pop())
        for decoder in reversed(self.decoders[:-1]):
            x = decoder(torch.cat([skips.pop(), x], dim=1))
        return x


class PatchDiscriminator(nn.Module):
    """PatchGAN: C64-C128-C256 (stride 2), C512 (stride 1), then a 1-channel conv.

    With n_layers=3 each output logit sees a 70x70 patch of the input; the map is
    30x30 for 256x256 images and 14x14 for 128x128.
    """

    condition = "image"  # it judges (source, image) pairs

    def __init__(
        self,
        channels: int = 3,
        source_channels: int | None = None,
        image_size: int = 256,
        base_width: int = 64,
        n_layers: int = 3,
    ):
        super().__init__()
        self.channels = channels
        self.source_channels = source_channels or channels
        self.image_size = image_size
        width = base_width
        layers: list[nn.Module] = [
            nn.Conv2d(self.source_channels + channels, width, 4, 2, 1),
            nn.LeakyReLU(0.2, True),
        ]
        for n in range(1, n_layers + 1):
            stride = 2 if n < n_layers else 1
            next_width = base_width * min(2**n, 8)
            layers += [
                nn.Conv2d(width, next_width, 4, stride, 1, bias=False),
                nn.BatchNorm2d(next_width),
                nn.LeakyReLU(0.2, True),
            ]
            width = next_width
        layers.append(nn.Conv2d(width, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        init_dcgan_weights(self)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        if cond is None:
            raise ValueError("PatchDiscriminator judges (source, image) pairs: pass the source as cond")
        return self.net(torch.cat([cond, x], dim=1))
