"""evaluate_paired.py's job: paired metrics of a pix2pix checkpoint (gan_lab.evaluation.paired), a JSON and a table."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, ListConfig

from gan_lab.config import validate
from gan_lab.config.schemas import EvaluatePairedConfig
from gan_lab.errors import UserError


def splits_of(value) -> tuple[str, ...]:
    splits = tuple(str(s) for s in value) if isinstance(value, (list, tuple, ListConfig)) else (str(value),)
    if not splits or not all(splits):
        raise UserError(f"split must name a split or a list of them, e.g. split=[train,val]; got {value!r}")
    return splits


def evaluate_paired_job(cfg: DictConfig) -> Path:
    from gan_lab.evaluation.paired import default_output, evaluate_paired, format_table, write_result

    cfg = validate(cfg, EvaluatePairedConfig)
    result = evaluate_paired(
        cfg.ckpt, splits=splits_of(cfg.split), eval_mode=cfg.eval_mode, batch_size=cfg.batch_size,
        limit=cfg.limit, seed=cfg.seed, data_dir=cfg.data_dir, use_ema=cfg.ema, device=cfg.device,
    )
    out = write_result(result, cfg.out or default_output(cfg.ckpt, result))
    print(format_table(result))
    print(out)
    return out
