"""Paired metrics of an image-to-image checkpoint: python evaluate_paired.py ckpt=<path> [split=[train,val]]
[eval_mode=train]. Writes <run dir>/eval/paired_<ckpt>_<splits>_<eval_mode>.json and prints a table;
docs/models/pix2pix.md.
"""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from gan_lab.errors import exit_on_user_error
from gan_lab.jobs.command_line import check_command_line
from gan_lab.jobs.evaluate_paired import evaluate_paired_job

CONF_DIR = Path(__file__).resolve().parent / "conf"


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate_paired")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    evaluate_paired_job(cfg)


if __name__ == "__main__":
    check_command_line(CONF_DIR, "evaluate_paired")
    main()
