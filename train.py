"""Train a GAN: python train.py experiment=<recipe> [overrides]. See README.md."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from gan_lab.cli import run_hydra_job, validate_training_config
from gan_lab.override_check import check_command_line

CONF_DIR = Path(__file__).resolve().parent / "conf"


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig):
    from gan_lab.training.run import train

    return run_hydra_job(train, cfg)


if __name__ == "__main__":
    check_command_line(CONF_DIR, "config", validate=validate_training_config)
    main()
