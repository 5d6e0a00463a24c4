"""Every recipe of conf/experiment at tiny size: small networks and tiny data, the recipe's own run length
(max_epochs / max_steps), loss, optimizer and schedule left as the recipe sets them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import CONF_DIR, data_dir

RECIPES = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))

DCGAN = ["model.generator.base_width=4", "model.discriminator.base_width=4", "model.generator.latent_dim=8"]
MLP = [
    "model.generator.hidden=[16]", "model.discriminator.hidden=[16]", "model.generator.latent_dim=8",
]
CGAN_MLP = [*MLP, "model.generator.embed_dim=4", "model.discriminator.embed_dim=4"]
STYLEGAN = [
    "model.generator.base_width=4", "model.generator.max_width=8", "model.generator.w_dim=8",
    "model.generator.latent_dim=8", "model.generator.mapping_layers=1",
    "model.discriminator.base_width=4", "model.discriminator.max_width=8",
]
# 64 px: the smallest U-Net with a dropout block
PIX2PIX = ["model.generator.base_width=4", "model.discriminator.base_width=4", "dataset.image_size=64"]
MODEL = {  # recipe -> tiny network overrides
    "cgan_fashion_mnist": [*DCGAN, "model.generator.embed_dim=4"],
    "cgan_mnist": CGAN_MLP,
    "cgan_mnist_fast": [*DCGAN, "model.generator.embed_dim=4"],
    "cwgan_gp_cifar10": [*DCGAN, "model.generator.embed_dim=4"],
    "dcgan_celeba": DCGAN,
    "dcgan_mnist": DCGAN,
    "dcgan_mnist_fast": DCGAN,
    "gan_mnist": MLP,
    "pix2pix_facades": PIX2PIX,
    "sngan_cifar10": DCGAN,  # the same width and latent keys
    "sngan_cifar10_cpu": DCGAN,
    "stylegan_cifar10": STYLEGAN,
    "wgan_gp_cifar10": DCGAN,
    # CPU presets: their paper recipe's networks, at tiny size too
    "cwgan_gp_cifar10_cpu": [*DCGAN, "model.generator.embed_dim=4"],
    "dcgan_celeba_cpu": DCGAN,
    "pix2pix_facades_cpu": PIX2PIX,
    "stylegan_cifar10_cpu": STYLEGAN,
    "wgan_gp_cifar10_cpu": DCGAN,
}
MNIST_LIKE = {  # need $GAN_LAB_DATA
    "cgan_fashion_mnist", "cgan_mnist", "cgan_mnist_fast", "dcgan_mnist", "dcgan_mnist_fast", "gan_mnist",
}
NEEDS_DATA = MNIST_LIKE | {"pix2pix_facades"}


def paper_recipe(recipe: str) -> str:
    """The recipe a CPU preset extends (itself for a paper recipe): it needs the same data."""
    return recipe.removesuffix("_cpu")


def has_data(recipe: str) -> bool:
    root = data_dir()
    recipe = paper_recipe(recipe)
    if recipe not in NEEDS_DATA:
        return True
    return root is not None and (root / ("facades" if recipe == "pix2pix_facades" else "FashionMNIST")).is_dir()


def save_noise(path: Path, size: tuple[int, int], seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(array).save(path)


def tiny_data(recipe: str, root: Path) -> list[str]:
    """Overrides pointing the recipe at tiny data: a noise folder for CelebA / CIFAR-10, a few real images
    (MNIST, Fashion-MNIST, facades) from $GAN_LAB_DATA otherwise."""
    recipe = paper_recipe(recipe)
    if recipe in MNIST_LIKE:
        return ["dataset.limit=64"]
    if recipe == "pix2pix_facades":
        return ["dataset.limit=8", f"paths.cache_dir={root / 'cache'}"]
    if recipe == "dcgan_celeba":  # a flat folder of 20x24 "faces", cropped 16 and kept at 16x16
        for i in range(8):
            save_noise(root / "faces" / f"{i:06d}.jpg", (20, 24), i)
        return [f"dataset.root={root / 'faces'}", "dataset.center_crop=16", "dataset.image_size=16"]
    for k in range(10):  # the CIFAR-10 JPEG tree, 2 images per class
        for i in range(2):
            save_noise(root / "cifar10-jpeg" / "train" / f"class{k}" / f"{i}.png", (32, 32), 10 * k + i)
    return [f"paths.data_dir={root}", "dataset.download=false", "dataset.image_size=16", f"paths.cache_dir={root}"]


def tiny_recipe(recipe: str, root: Path | None = None) -> list[str]:
    """The recipe with tiny networks (and, given a root for files, tiny data)."""
    overrides = [f"experiment={recipe}", *MODEL[recipe], "trainer.device=cpu", "logger=none"]
    return overrides + (tiny_data(recipe, root) if root is not None else [])
