"""Class-conditional DCGAN-style networks for WGAN-GP (cwgan_gp_cifar10).

The generator feeds [z, embedding(label)] to a DCGAN generator (Mirza &
Osindero's concatenation). The critic is a DCGAN discriminator without
BatchNorm (WGAN-GP's penalty is per sample, so the critic must not mix samples)
plus a projection term (Miyato & Koyama 2018): score = head(h) + <embed(y), sum_hw h>.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gan_lab.errors import UserError
from gan_lab.models.blocks import num_doublings
from gan_lab.models.dcgan import DCGANDiscriminator, DCGANGenerator


def require_labels(cond: Tensor | None, who: str) -> Tensor:
    if cond is None or cond.dim() != 1:
        raise UserError(f"{who} is class-conditional and needs class labels (B,); use a labelled dataset")
    return cond


class LabelConcatGenerator(nn.Module):
    """A DCGAN generator whose input is the latent z concatenated with a learned label embedding."""

    def __init__(
        self,
        latent_dim: int = 128,
        channels: int = 3,
        image_size: int = 32,
        base_width: int = 64,
        num_classes: int = 10,
        embed_dim: int = 32,
    ):
        super().__init__()
        if num_classes <= 0:
            raise UserError(
                "LabelConcatGenerator is class-conditional but num_classes is 0 (labels missing); use a labelled "
                "dataset (dataset.num_classes > 0, class sub-folders for image_folder) or an unconditional model"
            )
        self.latent_dim = latent_dim
        self.channels = channels
        self.image_size = image_size
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.net = DCGANGenerator(latent_dim + embed_dim, channels, image_size, base_width)

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        labels = require_labels(cond, "LabelConcatGenerator")
        return self.net(torch.cat([z, self.embed(labels)], dim=1))


class ProjectionCritic(nn.Module):
    """A DCGAN critic (norm none | layer) with a class projection term on its last features."""

    def __init__(
        self,
        channels: int = 3,
        image_size: int = 32,
        base_width: int = 64,
        num_classes: int = 10,
        norm: str = "layer",
    ):
        super().__init__()
        if norm == "batch":
            raise UserError("a WGAN-GP critic must not use BatchNorm; set model.discriminator.norm=layer or none")
        if num_classes <= 0:
            raise UserError(
                "ProjectionCritic is class-conditional but num_classes is 0 (labels missing); use a labelled "
                "dataset (dataset.num_classes > 0, class sub-folders for image_folder) or an unconditional model"
            )
        self.channels = channels
        self.image_size = image_size
        self.num_classes = num_classes
        self.body = DCGANDiscriminator(channels, image_size, base_width, norm=norm)
        width = base_width * 2 ** (num_doublings(image_size, family="ProjectionCritic") - 1)
        self.embed = nn.Embedding(num_classes, width)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)  # same scale as the DCGAN weights

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        labels = require_labels(cond, "ProjectionCritic")
        h = self.body.features(x)  # (B, width, 4, 4)
        unconditional = torch.flatten(self.body.head(h))
        projection = (self.embed(labels) * h.sum(dim=(2, 3))).sum(dim=1)
        return unconditional + projection
