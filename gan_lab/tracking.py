"""Experiment tracking: a local metrics.jsonl that always exists, plus W&B when configured.

W&B mode: `logger.mode` online / offline / disabled; when unset it is online
with an API key (WANDB_API_KEY or a `wandb login`) and offline otherwise, so a
run never blocks on a missing account.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from gan_lab.errors import UserError


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN / inf; keep them visible as strings
    return value


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """Records of a metrics.jsonl; a torn last line (killed mid-write) is skipped."""
    records = []
    path = Path(path)
    if not path.exists():
        return records
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def truncate_metrics(path: str | os.PathLike, last_step: int) -> None:
    """On resume, drop records logged after the checkpoint's step (they will be logged again)."""
    path = Path(path)
    if not path.exists():
        return
    kept = [r for r in read_metrics(path) if r.get("step", 0) <= last_step]
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
    os.replace(tmp, path)


def wandb_mode(requested: str | None) -> str:
    if requested:
        if requested not in ("online", "offline", "disabled"):
            raise UserError(f"logger.mode must be online, offline or disabled, got {requested!r}")
        return requested
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    has_key = bool(os.environ.get("WANDB_API_KEY")) or (Path.home() / ".netrc").exists()
    return "online" if has_key else "offline"


class Tracker:
    """Writes metrics.jsonl in the run dir and mirrors everything to W&B when enabled."""

    def __init__(
        self,
        run_dir: str | os.PathLike,
        logger_cfg: dict | None,
        config: dict,
        run_id: str | None = None,
        enabled: bool = True,  # False on DDP ranks other than 0: they write nothing
    ):
        self.run_dir = Path(run_dir)
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self.enabled = enabled
        self.wandb_run = None
        logger_cfg = dict(logger_cfg or {})
        if logger_cfg.get("backend", "none") == "wandb":
            self.wandb_run = self._start_wandb(logger_cfg, config, run_id)

    def _start_wandb(self, cfg: dict, config: dict, run_id: str | None):
        import wandb

        mode = wandb_mode(cfg.get("mode"))
        return wandb.init(
            project=cfg.get("project", "gan_lab"),
            entity=cfg.get("entity"),
            group=cfg.get("group"),
            job_type=cfg.get("job_type", "train"),
            tags=list(cfg.get("tags") or []),
            name=cfg.get("name"),
            config=config,
            dir=str(self.run_dir),
            mode=mode,
            id=run_id,
            resume="allow" if run_id else None,
        )

    @property
    def run_id(self) -> str | None:
        return getattr(self.wandb_run, "id", None)

    def log(self, record: dict) -> None:
        if not self.enabled:
            return
        record = {k: _jsonable(v) for k, v in record.items()}
        self.metrics_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.wandb_run is not None:
            self.wandb_run.log({k: v for k, v in record.items() if k != "step"}, step=record.get("step"))

    def log_image(self, step: int, name: str, path: str | os.PathLike) -> None:
        if self.wandb_run is not None:
            import wandb

            self.wandb_run.log({name: wandb.Image(str(path))}, step=step)

    def log_file(self, name: str, path: str | os.PathLike) -> None:
        """A final artefact (GIF, plot) for the W&B run; locally it already sits in the run dir."""
        if self.wandb_run is not None:
            import wandb

            media = wandb.Video(str(path)) if str(path).endswith(".gif") else wandb.Image(str(path))
            self.wandb_run.log({name: media})

    def finish(self) -> None:
        if self.wandb_run is not None:
            self.wandb_run.finish()
            self.wandb_run = None
