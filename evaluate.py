"""Evaluate a checkpoint: python evaluate.py ckpt=<path> [metrics=[fid,kid,prc]] [num_samples=10000] [reference=test].

Prints a table and writes <run dir>/eval/<name>.json with every value and its protocol. See docs/evaluation.md.
"""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from gan_lab.errors import exit_on_user_error
from gan_lab.jobs.command_line import check_command_line
from gan_lab.jobs.evaluate import evaluate_job

CONF_DIR = Path(__file__).resolve().parent / "conf"


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    evaluate_job(cfg)


if __name__ == "__main__":
    check_command_line(CONF_DIR, "evaluate")
    main()
