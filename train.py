"""Train a GAN: python train.py experiment=<recipe> [overrides]. See README.md."""

import hydra
from omegaconf import DictConfig

from gan_lab.cli import run_hydra_job


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig):
    from gan_lab.training.run import train

    return run_hydra_job(train, cfg)


if __name__ == "__main__":
    main()
