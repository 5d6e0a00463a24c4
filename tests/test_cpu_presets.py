"""The CPU presets (conf/experiment/*_cpu.yaml) are their paper recipe plus a short, stated list of changes:
the defaults-list include really brings in the paper's data, networks, loss and optimizer, nothing else
moves, and a stopped preset run continues with trainer.resume=auto to the same weights."""

import pytest
import torch
from omegaconf import OmegaConf

from gan_lab.training.checkpoint import load_checkpoint
from gan_lab.training.run import train
from gan_lab.utils.dicts import flatten
from tests.conftest import CONF_DIR, compose
from tests.recipes_tiny import paper_recipe, tiny_recipe

PRESETS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*_cpu.yaml"))
LEVERS = {"trainer.max_steps", "trainer.ema_decay", "trainer.ema_warmup", "trainer.precision", "trainer.channels_last",
          "trainer.checkpoint_every", "trainer.keep_last", "name"}
WGAN = LEVERS | {"optimizer.discriminator.lr", "trainer.n_critic", "trainer.ema_buffers", "trainer.sample_every"}
CHANGES = {  # preset -> every key whose resolved value differs from its paper recipe's
    "wgan_gp_cifar10_cpu": WGAN | {"eval_metric.name"},
    "cwgan_gp_cifar10_cpu": WGAN | {"trainer.eval_every"},
    "stylegan_cifar10_cpu": LEVERS | {"loss.r1_every", "trainer.sample_every", "eval_metric.name"},
    "dcgan_celeba_cpu": LEVERS | {
        "model.generator.base_width", "model.discriminator.base_width", "trainer.max_epochs", "trainer.batch_size",
        "trainer.ema_buffers", "trainer.sample_every", "eval_metric.name", "eval_metric.reference",
    },
    "pix2pix_facades_cpu": LEVERS | {
        "dataset.image_size", "model.generator.image_size", "model.discriminator.image_size", "trainer.max_epochs",
        "trainer.sample_every",
    },
}


def resolved(recipe: str) -> dict:
    return flatten(OmegaConf.to_container(compose([f"experiment={recipe}"]), resolve=True))


@pytest.mark.parametrize("preset", PRESETS)
def test_a_cpu_preset_keeps_its_paper_recipe_s_data_networks_loss_and_optimizer(preset):
    paper, cpu = resolved(paper_recipe(preset)), resolved(preset)
    for group in ("dataset", "model.generator", "model.discriminator", "loss", "optimizer.generator"):
        assert cpu[f"{group}._target_"] == paper[f"{group}._target_"], group
    assert cpu["trainer.max_steps"] and cpu["trainer.max_epochs"] is None  # a step budget, sized to ~60 minutes
    assert cpu["trainer.ema_decay"] > 0 and cpu["trainer.ema_warmup"]


@pytest.mark.parametrize("preset", sorted(CHANGES))
def test_a_cpu_preset_changes_only_what_it_lists(preset):
    paper, cpu = resolved(paper_recipe(preset)), resolved(preset)
    assert paper.keys() == cpu.keys()
    assert {k for k in cpu if cpu[k] != paper[k]} == CHANGES[preset]


def weights(run_dir) -> dict:
    state = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    return {f"{part}.{k}": v for part in ("generator", "discriminator", "ema") for k, v in state[part].items()}


def test_a_stopped_preset_run_continues_with_resume_auto_to_the_same_weights(tmp_path):
    """wgan_gp_cifar10_cpu at tiny size: n_critic 2, TTUR, the EMA with warm-up and the fast path all resume."""
    overrides = [
        *tiny_recipe("wgan_gp_cifar10_cpu", tmp_path / "data"), "trainer.batch_size=4", "trainer.log_every=1",
        "trainer.sample_every=100", "trainer.checkpoint_every=2", "trainer.num_samples=4", "trainer.progress_bar=false",
    ]
    train(compose([*overrides, "trainer.max_steps=4"]), tmp_path / "whole")
    train(compose([*overrides, "trainer.max_steps=2"]), tmp_path / "stopped")
    train(compose([*overrides, "trainer.max_steps=4", "trainer.resume=auto"]), tmp_path / "stopped")
    assert load_checkpoint(tmp_path / "stopped" / "checkpoints" / "last.ckpt")["step"] == 4
    whole, resumed = weights(tmp_path / "whole"), weights(tmp_path / "stopped")
    assert whole.keys() == resumed.keys()
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
