"""The "standard CNN" of SN-GAN (Miyato et al. 2018, Table 3) for 32x32 images.

G: z -> linear -> 4x4 x (8 w) -> BatchNorm, ReLU -> three 4x4 stride-2 transposed convs halving the width
(BatchNorm, ReLU) -> 3x3 conv to RGB, tanh. D: per halving a 3x3 stride-1 and a 4x4 stride-2 conv, then a
3x3 conv to 8 w and a linear layer to one score; LeakyReLU 0.1, no normalisation layer, so spectral
normalisation (model.discriminator.spectral_norm=true, gan_lab.build) is what keeps D in check.
w = base_width = 64 gives the paper's 512 -> 256 -> 128 -> 64 generator and 64 ... 512 discriminator.
The DCGAN classes cannot express this D (stride-1 convs between the downsamplings, a linear head).
"""

from __future__ import annotations

from torch import Tensor, nn

from gan_lab.models.blocks import init_dcgan_weights, num_doublings


class SNGANGenerator(nn.Module):
    def __init__(self, latent_dim: int = 128, channels: int = 3, image_size: int = 32, base_width: int = 64):
        super().__init__()
        self.latent_dim = latent_dim
        self.channels = channels
        self.image_size = image_size
        n_up = num_doublings(image_size, family="SNGANGenerator")
        self.bottom_width = width = base_width * 2**n_up
        self.project = nn.Linear(latent_dim, 4 * 4 * width)
        layers: list[nn.Module] = [nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        for _ in range(n_up):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1), nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_dcgan_weights(self)

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.net(self.project(z.view(z.shape[0], self.latent_dim)).view(-1, self.bottom_width, 4, 4))


class SNGANDiscriminator(nn.Module):
    def __init__(self, channels: int = 3, image_size: int = 32, base_width: int = 64, slope: float = 0.1):
        super().__init__()
        self.channels = channels
        self.image_size = image_size
        n_down = num_doublings(image_size, family="SNGANDiscriminator")
        layers: list[nn.Module] = []
        in_width, width = channels, base_width
        for _ in range(n_down):
            layers += [
                nn.Conv2d(in_width, width, 3, 1, 1), nn.LeakyReLU(slope, inplace=True),
                nn.Conv2d(width, width, 4, 2, 1), nn.LeakyReLU(slope, inplace=True),
            ]
            in_width, width = width, width * 2
        layers += [nn.Conv2d(in_width, width, 3, 1, 1), nn.LeakyReLU(slope, inplace=True), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width * 4 * 4, 1)
        init_dcgan_weights(self)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.head(self.features(x)).view(-1)
