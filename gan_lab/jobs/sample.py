"""sample.py's job: check the options' ranges, draw with the selected mode, print the files written."""

from __future__ import annotations

from omegaconf import DictConfig

from gan_lab.config import validate
from gan_lab.config.schemas import SampleConfig


def sample_job(cfg: DictConfig) -> list:
    from gan_lab.sampling import run_sample

    written = run_sample(validate(cfg, SampleConfig))
    for path in written:
        print(path)
    return written
