"""Train a GAN: python train.py experiment=<recipe> [overrides]. See README.md and docs/sweeps.md."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from gan_lab.jobs.command_line import check_command_line
from gan_lab.jobs.hydra_job import run_hydra_job
from gan_lab.jobs.train import train_job, validate_training_config

CONF_DIR = Path(__file__).resolve().parent / "conf"


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig):
    return run_hydra_job(train_job, cfg)


if __name__ == "__main__":
    check_command_line(CONF_DIR, "config", validate=validate_training_config)
    main()
