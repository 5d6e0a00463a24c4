"""Train a GAN: python train.py experiment=<recipe> [overrides]. See README.md and docs/sweeps.md."""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

from gan_lab.cli import run_hydra_job, validate_training_config
from gan_lab.override_check import check_command_line

CONF_DIR = Path(__file__).resolve().parent / "conf"


def train_job(cfg: DictConfig, run_dir):
    """Train, then return the configured objective (what an Optuna sweep optimises) and mark the job finished."""
    from gan_lab.jobs.train import train
    from gan_lab.sweeps import objective_value, write_result

    main_rank = int(os.environ.get("RANK", "0")) == 0  # under torchrun only rank 0 writes into the run dir
    # A stale result.json of an earlier attempt is removed by train() once every check has passed.
    record = train(cfg, run_dir)
    if "stopped_at" in record:  # interrupted: not finished; run_hydra_job exits with 128 + the signal
        return record
    if not main_rank:
        return None
    objective = objective_value(run_dir, cfg.get("objective"), record)
    write_result(run_dir, objective, record)
    return objective


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig):
    return run_hydra_job(train_job, cfg)


if __name__ == "__main__":
    check_command_line(CONF_DIR, "config", validate=validate_training_config)
    main()
