"""Evaluate a checkpoint: python evaluate.py ckpt=<path> [metrics=[fid,kid,prc]] [num_samples=10000] [reference=test].

Prints a table and writes <run dir>/eval/<name>.json with every value and its protocol. See docs/evaluation.md.
"""

import hydra
from omegaconf import DictConfig

from gan_lab.errors import exit_on_user_error


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    from gan_lab.evaluation.run import run_evaluate

    run_evaluate(cfg)


if __name__ == "__main__":
    main()
