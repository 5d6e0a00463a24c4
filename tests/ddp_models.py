"""Small networks without BatchNorm for the DDP equivalence test: with per-sample
independent computations, DDP over W processes equals one process on the global batch."""

from torch import nn


class TinyMLPGenerator(nn.Module):
    def __init__(self, latent_dim=16, channels=1, image_size=32, base_width=32, **dcgan_options):
        # dcgan_options: the other keys of conf/model/dcgan.yaml's generator (e.g. upsample), unused here
        super().__init__()
        self.latent_dim, self.channels, self.image_size = latent_dim, channels, image_size
        self.net = nn.Sequential(
            nn.Linear(latent_dim, base_width), nn.LeakyReLU(0.2), nn.Linear(base_width, channels * image_size**2),
            nn.Tanh(),
        )

    def forward(self, z, cond=None):
        return self.net(z).view(-1, self.channels, self.image_size, self.image_size)


class TinyMLPDiscriminator(nn.Module):
    def __init__(self, channels=1, image_size=32, base_width=32, norm="none", **dcgan_options):
        super().__init__()
        self.channels, self.image_size = channels, image_size
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(channels * image_size**2, base_width), nn.LeakyReLU(0.2), nn.Linear(base_width, 1)
        )

    def forward(self, x, cond=None):
        return self.net(x).flatten()
