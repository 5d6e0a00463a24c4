"""Experiment tracking: a local metrics.jsonl that always exists, plus W&B and / or TensorBoard when configured.

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
from gan_lab.utils.io import atomic_write_text


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
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))


def wandb_mode(requested: str | None) -> str:
    if requested:
        if requested not in ("online", "offline", "disabled"):
            raise UserError(f"logger.mode must be online, offline or disabled, got {requested!r}")
        return requested
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    has_key = bool(os.environ.get("WANDB_API_KEY")) or (Path.home() / ".netrc").exists()
    return "online" if has_key else "offline"


class TensorBoardWriter:
    """Scalars, sample grids and the resolved config (as text) in TensorBoard event files.

    Opened lazily at the first write, with purge_step = that step: on resume the first step logged
    again is the first one after the checkpoint, so TensorBoard drops the stale events of the
    interrupted run from there on instead of drawing two lines.
    """

    def __init__(self, log_dir: Path, config: dict, flush_secs: int = 30):
        self.log_dir = log_dir
        self.config = config
        self.flush_secs = flush_secs
        self._writer = None

    def _open(self, step: int | None):
        if self._writer is None:
            import yaml
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.log_dir), purge_step=step, flush_secs=self.flush_secs)
            text = yaml.safe_dump(self.config, sort_keys=False, default_flow_style=False)
            # TensorBoard renders text as Markdown: indent by 4 spaces to keep the YAML a code block
            self._writer.add_text("config", "\n".join("    " + line for line in text.splitlines()), step or 0)
        return self._writer

    def scalars(self, record: dict) -> None:
        step = record.get("step")
        writer = self._open(step)
        for key, value in record.items():
            if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                writer.add_scalar(key, value, step)

    def image(self, name: str, path: str | os.PathLike, step: int | None) -> None:
        import numpy as np
        from PIL import Image

        with Image.open(path) as img:
            pixels = np.asarray(img.convert("RGB"))
        self._open(step).add_image(name, pixels, step, dataformats="HWC")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None



class Tracker:
    """Writes metrics.jsonl in the run dir and mirrors everything to W&B and / or TensorBoard when enabled.

    logger_cfg (the `logger` group; several can be chosen, logger=[wandb,tensorboard]):
    `wandb: true` plus W&B's settings (project, mode, group, ...), `tensorboard: true` plus
    tensorboard_dir (relative to the run dir). A legacy `backend: wandb` still means W&B.
    """

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
        self.tensorboard = None
        logger_cfg = dict(logger_cfg or {})
        if logger_cfg.get("wandb") is True or logger_cfg.get("backend") == "wandb":
            self.wandb_run = self._start_wandb(logger_cfg, config, run_id)
        if logger_cfg.get("tensorboard") is True and enabled:
            self.tensorboard = TensorBoardWriter(
                self.run_dir / logger_cfg.get("tensorboard_dir", "tensorboard"), config,
                flush_secs=int(logger_cfg.get("tensorboard_flush_secs", 30)),
            )

    def _start_wandb(self, cfg: dict, config: dict, run_id: str | None):
        import wandb

        mode = wandb_mode(cfg.get("mode"))
        if cfg.get("variant") is not None:  # the report's variant key, so W&B can group by it
            config = {**config, "variant": cfg["variant"]}
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
        if self.tensorboard is not None:
            self.tensorboard.scalars(record)

    def log_image(self, step: int, name: str, path: str | os.PathLike) -> None:
        if self.wandb_run is not None:
            import wandb

            self.wandb_run.log({name: wandb.Image(str(path))}, step=step)
        if self.tensorboard is not None:
            self.tensorboard.image(name, path, step)

    def log_file(self, name: str, path: str | os.PathLike) -> None:
        """A final artefact (GIF, plot) for the W&B run; locally it already sits in the run dir."""
        if self.wandb_run is not None:
            import wandb

            media = wandb.Video(str(path)) if str(path).endswith(".gif") else wandb.Image(str(path))
            self.wandb_run.log({name: media})
        if self.tensorboard is not None and str(path).endswith(".png"):
            self.tensorboard.image(name, path, None)

    def finish(self) -> None:
        if self.wandb_run is not None:
            self.wandb_run.finish()
            self.wandb_run = None
        if self.tensorboard is not None:
            self.tensorboard.close()
            self.tensorboard = None
