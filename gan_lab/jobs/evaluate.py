"""evaluate.py's job: check the options' ranges, then evaluate the checkpoint (gan_lab.evaluation.run)."""

from __future__ import annotations

from omegaconf import DictConfig

from gan_lab.config import validate
from gan_lab.config.schemas import EvaluateConfig


def evaluate_job(cfg: DictConfig):
    from gan_lab.evaluation.run import run_evaluate

    return run_evaluate(validate(cfg, EvaluateConfig))
