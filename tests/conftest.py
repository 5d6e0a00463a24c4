"""Shared test setup: tiny configs composed through Hydra's compose API, one CPU thread."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
CONF_DIR = REPO / "conf"
SHARED_DATA = REPO.parent / "shared" / "datasets"

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
if "GAN_LAB_DATA" not in os.environ and SHARED_DATA.is_dir():
    os.environ["GAN_LAB_DATA"] = str(SHARED_DATA)
torch.set_num_threads(1)

# Small networks and few steps: every CLI/trainer test uses these unless it needs otherwise.
TINY = [
    "model.generator.base_width=8",
    "model.discriminator.base_width=8",
    "model.generator.latent_dim=16",
    "trainer.batch_size=16",
    "trainer.max_epochs=null",
    "trainer.max_steps=4",
    "trainer.log_every=2",
    "trainer.sample_every=2",
    "trainer.checkpoint_every=2",
    "trainer.num_samples=16",
    "trainer.progress_bar=false",
    "trainer.device=cpu",
    # fp32 numerics for the tiny tests (the dcgan_mnist recipe runs bf16 where the CPU has it);
    # tests of the fast path set trainer.precision / channels_last themselves.
    "trainer.precision=fp32",
    "trainer.channels_last=false",
]


def compose(overrides: list[str] | None = None, config_name: str = "config"):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(overrides or []))


def data_dir() -> Path | None:
    root = os.environ.get("GAN_LAB_DATA")
    return Path(root) if root and (Path(root) / "MNIST" / "raw").is_dir() else None


needs_mnist = pytest.mark.skipif(data_dir() is None, reason="MNIST not found under $GAN_LAB_DATA")


@pytest.fixture
def tiny_overrides() -> list[str]:
    return list(TINY)


def local_trainer(cfg, run_dir, callbacks=()):
    """A Trainer built from a composed config on the CPU, one process, no W&B (as training/run.py builds it)."""
    from gan_lab.config import validate_trainer
    from gan_lab.tracking import Tracker
    from gan_lab.training.run import build_parts
    from gan_lab.training.trainer import RunContext, Trainer

    run = RunContext(Path(run_dir), Tracker(run_dir, None, {}), seed=int(cfg.seed))
    return Trainer(validate_trainer(cfg.trainer), build_parts(cfg), run, callbacks=callbacks)
