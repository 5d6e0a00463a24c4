"""Pictures from a checkpoint or a run: python sample.py ckpt=<path> [mode=grid|per_class|interpolate|translate|
style_mixing|noise_resampling] or python sample.py run=<run dir> mode=progress|curves. Options in
gan_lab/config/schemas.py; docs/sampling.md."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from gan_lab.errors import exit_on_user_error
from gan_lab.jobs.command_line import check_command_line
from gan_lab.jobs.sample import sample_job

CONF_DIR = Path(__file__).resolve().parent / "conf"


@hydra.main(version_base="1.3", config_path="conf", config_name="sample")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    sample_job(cfg)


if __name__ == "__main__":
    check_command_line(CONF_DIR, "sample")
    main()
