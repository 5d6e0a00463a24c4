"""The recipes wgan_gp_cifar10, cwgan_gp_cifar10, stylegan_cifar10 and dcgan_celeba train for 2 steps at tiny
size through the Hydra compose API, on tiny image folders made here (no real data needed)."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan_lab.jobs.train import train
from tests.conftest import compose

DCGAN_TINY = ["model.generator.base_width=4", "model.discriminator.base_width=4", "model.generator.latent_dim=8"]
STYLEGAN_TINY = [
    "model.generator.base_width=4", "model.generator.max_width=8", "model.generator.w_dim=8",
    "model.generator.latent_dim=8", "model.generator.mapping_layers=1",
    "model.discriminator.base_width=4", "model.discriminator.max_width=8",
]
RECIPES = {  # recipe -> (tiny model overrides, log keys its loss must write)
    "wgan_gp_cifar10": (DCGAN_TINY, {"wasserstein", "gp", "g_loss"}),
    "cwgan_gp_cifar10": (DCGAN_TINY, {"wasserstein", "gp", "g_loss"}),
    "stylegan_cifar10": (STYLEGAN_TINY, {"d_loss", "r1", "g_loss"}),
    "dcgan_celeba": (DCGAN_TINY, {"d_loss", "g_loss"}),
}


def save_noise(path: Path, size: tuple[int, int], seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(array).save(path)


def tiny_data(root: Path, recipe: str) -> list[str]:
    if recipe == "dcgan_celeba":  # a flat folder of 20x24 "faces", cropped 16 and kept at 16x16
        for i in range(8):
            save_noise(root / "faces" / f"{i:06d}.jpg", (20, 24), i)
        return [f"dataset.root={root / 'faces'}", "dataset.center_crop=16", "dataset.image_size=16"]
    for k in range(10):  # the CIFAR-10 JPEG tree, 2 images per class
        for i in range(2):
            save_noise(root / "cifar10-jpeg" / "train" / f"class{k}" / f"{i}.png", (32, 32), 10 * k + i)
    return [f"paths.data_dir={root}", "dataset.download=false", "dataset.image_size=16"]


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_recipe_trains_two_steps_at_tiny_size(recipe, tmp_path):
    model_overrides, log_keys = RECIPES[recipe]
    overrides = [
        f"experiment={recipe}", *tiny_data(tmp_path / "data", recipe), *model_overrides,
        f"paths.cache_dir={tmp_path / 'cache'}", "trainer.batch_size=4", "trainer.max_epochs=null",
        "trainer.max_steps=2", "trainer.log_every=1", "trainer.sample_every=2", "trainer.checkpoint_every=2",
        "trainer.num_samples=10", "trainer.progress_bar=false", "trainer.device=cpu", "logger=none",
    ]
    cfg = compose(overrides)
    run_dir = tmp_path / "run"
    train(cfg, run_dir)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    assert log_keys <= set(records[-1])
    assert (run_dir / "samples" / "step_0000002.png").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()


def test_wgan_recipes_use_the_paper_settings():
    for recipe in ("wgan_gp_cifar10", "cwgan_gp_cifar10"):
        cfg = compose([f"experiment={recipe}"])
        assert cfg.trainer.n_critic == 5 and cfg.loss.gp_weight == 10
        assert cfg.optimizer.generator.lr == 1e-4 and list(cfg.optimizer.discriminator.betas) == [0.0, 0.9]
        assert cfg.model.discriminator.norm != "batch"
    assert compose(["experiment=cwgan_gp_cifar10"]).model.discriminator.num_classes == 10


def test_dcgan_celeba_is_the_paper_width_at_64():
    from gan_lab.build import build_models

    cfg = compose(["experiment=dcgan_celeba"])
    G, _ = build_models(cfg)
    widths = [m.out_channels for m in G.net if hasattr(m, "out_channels")]
    assert cfg.dataset.image_size == 64 and widths == [1024, 512, 256, 128, 3]
