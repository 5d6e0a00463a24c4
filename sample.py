"""Draw images from a trained generator: python sample.py ckpt=<path> [n=64] [out=grid.png]."""

import hydra
from omegaconf import DictConfig

from gan_lab.errors import exit_on_user_error


@hydra.main(version_base="1.3", config_path="conf", config_name="sample")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    from gan_lab.sampling import run_sample

    for path in run_sample(cfg):
        print(path)


if __name__ == "__main__":
    main()
