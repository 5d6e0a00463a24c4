"""Pictures from a checkpoint or a run: python sample.py ckpt=<path> [mode=grid|per_class|interpolate|translate]
or python sample.py run=<run dir> mode=progress|curves. Options in conf/sample.yaml; docs/sampling.md."""

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
