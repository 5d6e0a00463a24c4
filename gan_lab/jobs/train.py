"""train.py's job: train, then write the objective an Optuna sweep optimises and mark the job finished."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig

from gan_lab.config import validate_optimizer, validate_seed, validate_trainer


def validate_training_config(cfg: DictConfig) -> None:
    """The checks of train.py that need no data or torch: run before Hydra starts the job."""
    validate_trainer(cfg.trainer)
    validate_optimizer(cfg.optimizer)
    validate_seed(cfg.seed)


def train_job(cfg: DictConfig, run_dir):
    """Train, then return the configured objective (what an Optuna sweep optimises) and mark the job finished."""
    from gan_lab.sweeps import objective_value, write_result
    from gan_lab.training.run import train

    main_rank = int(os.environ.get("RANK", "0")) == 0  # under torchrun only rank 0 writes into the run dir
    if main_rank:
        (Path(run_dir) / "result.json").unlink(missing_ok=True)  # stale from an earlier attempt in this dir
    record = train(cfg, run_dir)
    if "stopped_at" in record:  # interrupted: not finished; run_hydra_job exits with 128 + the signal
        return record
    if not main_rank:
        return None
    objective = objective_value(run_dir, cfg.get("objective"), record)
    write_result(run_dir, objective, record)
    return objective
