"""Every recipe composes and builds; the trainer schema rejects typos, wrong types and bad ranges."""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from gan_lab.build import build_loss, build_models, build_optimizers
from gan_lab.config import validate_optimizer, validate_trainer
from gan_lab.errors import UserError
from tests.conftest import CONF_DIR, compose

EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


def test_there_are_recipes():
    assert "dcgan_mnist" in EXPERIMENTS


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes_and_builds(experiment):
    cfg = compose([f"experiment={experiment}"])
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
    assert cfg.name == experiment, "each recipe names its runs after itself"
    validate_trainer(cfg.trainer)
    validate_optimizer(cfg.optimizer)
    generator, discriminator = build_models(cfg)
    build_loss(cfg)
    opt_g, opt_d = build_optimizers(cfg, generator, discriminator)
    assert opt_g.param_groups[0]["params"][0] is next(generator.parameters())


def test_default_recipe_is_dcgan_mnist_fast_within_250k_images():
    cfg = compose([])
    assert cfg.name == "dcgan_mnist_fast"  # the paper settings stay experiment=dcgan_mnist
    assert cfg.trainer.max_epochs is None and 245_000 < cfg.trainer.max_steps * cfg.trainer.batch_size <= 250_000
    assert cfg.trainer.ema_decay > 0  # samples and evaluation from the EMA generator
    assert cfg.model.generator._target_.endswith("DCGANGenerator")
    assert cfg.dataset._target_.endswith("MNISTData")
    assert cfg.dataset.image_size == 32


def test_lr_override_reaches_both_optimizers():
    cfg = compose(["optimizer.lr=1e-4"])
    assert cfg.optimizer.generator.lr == 1e-4 and cfg.optimizer.discriminator.lr == 1e-4


def test_data_dir_comes_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GAN_LAB_DATA", str(tmp_path))
    cfg = compose([])
    assert Path(cfg.dataset.root) == tmp_path


@pytest.mark.parametrize(
    "override, message",
    [
        ({"max_step": 3}, "max_step"),
        ({"batch_size": "abc"}, "batch_size"),
        ({"batch_size": 0}, "trainer.batch_size must be a positive integer"),
        ({"n_critic": 0}, "trainer.n_critic must be a positive integer"),
        ({"max_steps": -5}, "trainer.max_steps must be >= 0"),
        ({"ema_decay": 1.5}, "trainer.ema_decay must be in [0, 1)"),
        ({"nonfinite": "ignore"}, "trainer.nonfinite must be one of stop, skip"),
        ({"nonfinite_check": "weights"}, "trainer.nonfinite_check must be one of grads, loss"),
        ({"max_steps": None, "max_epochs": None}, "trainer.max_steps and trainer.max_epochs are both null"),
        ({"max_epochs": 0}, "trainer.max_epochs must be positive, got 0"),
        ({"grad_clip": -1.0}, "trainer.grad_clip must be positive or null"),
    ],
)
def test_trainer_schema_rejects_bad_values(override, message):
    # The section as written in a file or a checkpoint (plain values, no schema attached), then the bad value.
    cfg = compose([])
    trainer = OmegaConf.create({**OmegaConf.to_container(cfg.trainer, enum_to_str=True), **override})
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace(")", r"\)")):
        validate_trainer(trainer)


def test_the_trainer_defaults_come_from_the_schema_and_hydra_checks_choices():
    from gan_lab.config.schemas import TrainerConfig

    cfg = compose(["trainer.nonfinite=skip"])
    # keep_last: a key the default recipe (dcgan_mnist_fast) leaves to the schema
    assert OmegaConf.get_type(cfg.trainer) is TrainerConfig and cfg.trainer.keep_last == TrainerConfig.keep_last
    validated = validate_trainer(cfg.trainer)
    assert validated.nonfinite == "skip" and type(validated.nonfinite) is str  # plain strings for checkpoints
    with pytest.raises(Exception, match="trainer.nonfinite=ignore"):
        compose(["trainer.nonfinite=ignore"])


def test_negative_learning_rate_is_rejected():
    cfg = compose(["optimizer.lr=-1e-4"])
    with pytest.raises(UserError, match="optimizer.generator.lr must be a positive number"):
        validate_optimizer(cfg.optimizer)
