"""The recipes wgan_gp_cifar10, cwgan_gp_cifar10, sngan_cifar10(_cpu), stylegan_cifar10 and dcgan_celeba train
for 2 steps at tiny size through the Hydra compose API, on tiny image folders made here (no real data needed)."""

import json

import pytest

from gan_lab.jobs.train import train
from tests.conftest import compose
from tests.recipes_tiny import tiny_data

DCGAN_TINY = ["model.generator.base_width=4", "model.discriminator.base_width=4", "model.generator.latent_dim=8"]
STYLEGAN_TINY = [
    "model.generator.base_width=4", "model.generator.max_width=8", "model.generator.w_dim=8",
    "model.generator.latent_dim=8", "model.generator.mapping_layers=1",
    "model.discriminator.base_width=4", "model.discriminator.max_width=8",
]
RECIPES = {  # recipe -> (tiny model overrides, log keys its loss must write)
    "wgan_gp_cifar10": (DCGAN_TINY, {"wasserstein", "gp", "g_loss"}),
    "cwgan_gp_cifar10": (DCGAN_TINY, {"wasserstein", "gp", "g_loss"}),
    "sngan_cifar10": (DCGAN_TINY, {"d_loss", "d_real", "d_fake", "g_loss"}),
    "sngan_cifar10_cpu": (DCGAN_TINY, {"d_loss", "d_real", "d_fake", "g_loss"}),
    "stylegan_cifar10": (STYLEGAN_TINY, {"d_loss", "r1", "g_loss"}),
    "dcgan_celeba": (DCGAN_TINY, {"d_loss", "g_loss"}),
}


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_recipe_trains_two_steps_at_tiny_size(recipe, tmp_path):
    model_overrides, log_keys = RECIPES[recipe]
    data_overrides = tiny_data(recipe, tmp_path / "data")  # the CIFAR-10 tree keeps its cache beside it
    if not any(o.startswith("paths.cache_dir=") for o in data_overrides):
        data_overrides.append(f"paths.cache_dir={tmp_path / 'cache'}")
    overrides = [
        f"experiment={recipe}", *data_overrides, *model_overrides, "trainer.batch_size=4", "trainer.max_epochs=null",
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
