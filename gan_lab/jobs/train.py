"""train.py's job: a training run (gan_lab.training.run) plus what belongs to the job around it — W&B settings
of a sweep, Hydra's .hydra/ files once the inputs passed their checks, end-of-run pictures — then the objective
an Optuna sweep optimises, and the job marked finished (result.json)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from gan_lab.config import validate_optimizer, validate_seed, validate_trainer
from gan_lab.jobs.hydra_job import save_hydra_files
from gan_lab.sampling import end_of_training_pictures
from gan_lab.sweeps import current_job, objective_value, wandb_settings, write_result
from gan_lab.training.callbacks import Callback
from gan_lab.training.run import JobSettings
from gan_lab.training.run import train as run_training


def validate_training_config(cfg: DictConfig) -> None:
    """The checks of train.py that need no data or torch: run before Hydra starts the job."""
    validate_trainer(cfg.trainer)
    validate_optimizer(cfg.optimizer)
    validate_seed(cfg.seed)


class SaveHydraFiles(Callback):
    """<run>/.hydra/ as Hydra would write it, but only when fit() starts: a refused run leaves the dir as it was."""

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg

    def on_fit_start(self, trainer):
        if trainer.dist.is_main:
            save_hydra_files(self.cfg, trainer.run_dir)


class EndOfRunPictures(Callback):
    """Loss curves and an interpolation GIF in the run dir (and W&B) when the run reached its last step.
    A failure here is reported, not raised: the weights are already saved and must not be lost to a plot."""

    def on_fit_end(self, trainer):
        if not trainer.dist.is_main:
            return
        try:
            for path in end_of_training_pictures(trainer, trainer.tracker):
                print(f"wrote {path}", file=sys.stderr)
        except Exception as err:
            print(f"warning: could not draw the end-of-run pictures: {type(err).__name__}: {err}", file=sys.stderr)


def train(cfg: DictConfig, run_dir: str | Path) -> dict:
    """Train; returns the last logged record, or {"stopped_at", "stopped_by_signal"} after a signal."""
    job = current_job(cfg)
    logger = None
    if cfg.get("logger"):  # sweep jobs share a W&B group named after the sweep and carry their overrides
        logger = wandb_settings(OmegaConf.to_container(cfg.logger, resolve=True), job, str(cfg.get("name", "run")))
    settings = JobSettings(logger, job.overrides, callbacks=(SaveHydraFiles(cfg), EndOfRunPictures()))
    return run_training(cfg, run_dir, settings)


def train_job(cfg: DictConfig, run_dir):
    """Train, then return the configured objective (what an Optuna sweep optimises) and mark the job finished."""
    main_rank = int(os.environ.get("RANK", "0")) == 0  # under torchrun only rank 0 writes into the run dir
    # A stale result.json of an earlier attempt is removed by the run once every check has passed.
    record = train(cfg, run_dir)
    if "stopped_at" in record:  # interrupted: not finished; run_hydra_job exits with 128 + the signal
        return record
    if not main_rank:
        return None
    objective = objective_value(run_dir, cfg.get("objective"), record)
    write_result(run_dir, objective, record)
    return objective
