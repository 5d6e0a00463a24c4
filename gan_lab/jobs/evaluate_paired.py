"""evaluate_paired.py's job: paired metrics and FID / KID of a pix2pix checkpoint (gan_lab.evaluation.paired), a JSON,
translation grids and a table."""

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
    from gan_lab.evaluation.paired import default_output, evaluate_paired, format_table

    cfg = validate(cfg, EvaluatePairedConfig)
    splits = splits_of(cfg.split)
    out = Path(cfg.out) if cfg.out else default_output(cfg.ckpt, splits, cfg.eval_mode)
    result = evaluate_paired(
        cfg.ckpt, splits=splits, eval_mode=cfg.eval_mode, batch_size=cfg.batch_size, limit=cfg.limit,
        seed=cfg.seed, data_dir=cfg.data_dir, use_ema=cfg.ema, device=cfg.device, metrics=tuple(cfg.metrics),
        fidelity=cfg.fidelity, cache_dir=cfg.cache_dir, grid_rows=cfg.grid_rows, out=out,
    )
    print(format_table(result))
    for grid in result["grids"].values():
        print(grid)
    print(out)
    return out
