"""Glue between a Hydra entry point and its job: run dir, errors, signals, multirun failures, .hydra/ files."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from gan_lab.errors import UserError, debug_enabled


def use_job_threads(cfg: DictConfig) -> None:
    """Parallel sweep jobs (joblib, Slurm) get their share of the cores, unless trainer.num_threads is set."""
    from gan_lab.sweeps import current_job, threads_per_job

    threads = threads_per_job(current_job(cfg))
    if threads is None or (OmegaConf.select(cfg, "trainer.num_threads") or 0) > 0:
        return
    import torch

    torch.set_num_threads(threads)
    if OmegaConf.select(cfg, "trainer") is not None:
        with open_dict(cfg):
            cfg.trainer.num_threads = threads  # recorded in the run's config and W&B


def run_hydra_job(fn, cfg: DictConfig):
    """Call fn(cfg, run_dir). A UserError ends a single run with one line and exit code 2;
    inside a multirun any failure is written to <job dir>/failed.txt and the sweep goes on.
    A run stopped by SIGINT / SIGTERM (checkpoint saved) exits with 128 + the signal number,
    so `train.py && evaluate.py` does not go on with an unfinished run."""
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    if multirun:  # a job re-run into its old dir (e.g. trainer.resume=auto) starts with a clean slate
        (run_dir / "failed.txt").unlink(missing_ok=True)
    try:
        use_job_threads(cfg)
        result = fn(cfg, run_dir)
    except KeyboardInterrupt:  # Ctrl-C before training started, or a second Ctrl-C during it
        if debug_enabled() or cfg.get("debug", False):
            raise
        print(f"interrupted; nothing was saved after the last checkpoint in {run_dir}", file=sys.stderr)
        sys.exit(130)
    except Exception as err:
        if debug_enabled() or cfg.get("debug", False):
            raise
        if multirun:
            if not (run_dir / ".hydra" / "overrides.yaml").exists():  # failed before the run wrote it
                save_hydra_files(cfg, run_dir)  # so the report can say which variant failed
            (run_dir / "failed.txt").write_text(f"{type(err).__name__}: {err}\n\n{traceback.format_exc()}")
            print(f"job {hydra_cfg.job.num} failed: {err}", file=sys.stderr)
            return None
        if isinstance(err, UserError):
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
        raise
    if isinstance(result, dict) and result.get("stopped_by_signal"):
        sys.exit(128 + int(result["stopped_by_signal"]))
    return result


def save_hydra_files(cfg: DictConfig, run_dir: str | Path) -> None:
    """Write <run>/.hydra/{config,hydra,overrides}.yaml, as Hydra would, but only once the run's
    inputs passed their checks: conf/hydra/default.yaml sets output_subdir=null so that a refused
    run leaves an existing run dir byte-identical. No-op outside a Hydra job (tests, notebooks)."""
    from gan_lab.utils.io import atomic_write_bytes

    if not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.get()
    out = Path(run_dir) / ".hydra"
    files = {
        "config.yaml": OmegaConf.to_yaml(cfg),
        "hydra.yaml": OmegaConf.to_yaml(OmegaConf.create({"hydra": hydra_cfg})),
        "overrides.yaml": OmegaConf.to_yaml(hydra_cfg.overrides.task),
    }
    for name, text in files.items():
        atomic_write_bytes(out / name, text.encode())
