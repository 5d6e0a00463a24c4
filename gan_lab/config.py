"""Config schemas: the trainer section is checked against a dataclass at start,
so a typo (`trainer.max_step`) or a wrong type (`trainer.batch_size=abc`) fails
with one clear line instead of deep inside a run."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gan_lab.errors import UserError


@dataclass
class TrainerConfig:
    # Training stops at whichever limit comes first (PyTorch Lightning's convention); null removes a limit.
    max_steps: int | None = 2000  # generator updates; each one follows n_critic discriminator updates
    max_epochs: float | None = None  # epochs of discriminator batches
    batch_size: int = 128
    n_critic: int = 1
    ema_decay: float = 0.0  # 0 = no EMA of G
    ema_warmup: bool = False  # decay min(ema_decay, (1 + step) / (10 + step)), see training/ema.py
    ema_buffers: str = "copy"  # copy | average: BatchNorm running statistics of the EMA generator
    device: str = "auto"  # auto | cpu | cuda[:N]
    precision: str = "fp32"  # auto | fp32 | bf16 | fp16 (fp16: CUDA only); auto is resolved at start
    channels_last: bool = False
    num_threads: int = 0  # torch CPU threads; 0 = leave torch's default
    log_every: int = 50
    sample_every: int = 500
    num_samples: int = 64  # images in each periodic grid
    sample_mode: str = "eval"  # eval | train: BatchNorm/dropout mode of G when drawing grids
    checkpoint_every: int = 1000
    keep_last: int = 3  # periodic checkpoints kept besides last.ckpt
    resume: str | None = None  # None | auto | <path to .ckpt>
    eval_every: int = 0  # steps between in-training metrics (conf/eval_metric); 0 = off
    grad_clip: float | None = None  # max grad norm for both networks; None = off
    nonfinite: str = "stop"  # stop | skip
    nonfinite_check: str = "grads"  # grads | loss: what is checked every step (loss: weights at each checkpoint)
    max_nonfinite_skips: int = 10  # nonfinite=skip: stop when this many steps in a row were non-finite
    progress_bar: bool = True
    strategy: str = "single"  # single | ddp (launch with torchrun)
    sync_batchnorm: bool = False  # under ddp: BatchNorm statistics over the global batch


POSITIVE_INTS = (
    "batch_size", "n_critic", "log_every", "sample_every", "checkpoint_every", "num_samples", "max_nonfinite_skips"
)
NON_NEGATIVE_INTS = ("max_steps", "keep_last", "eval_every", "num_threads")
CHOICES = {
    "sample_mode": ("eval", "train"),
    "ema_buffers": ("copy", "average"),
    "nonfinite": ("stop", "skip"),
    "nonfinite_check": ("grads", "loss"),
    "strategy": ("single", "ddp"),
}


def _one_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0]


def validate_trainer(trainer_cfg: DictConfig) -> DictConfig:
    """Merge onto the schema (unknown keys and wrong types fail) and check ranges."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(TrainerConfig), trainer_cfg)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        raise UserError(
            f"trainer.{key}: {_one_line(err)} (see conf/trainer/default.yaml for valid keys and types)"
        ) from err
    for key in POSITIVE_INTS:
        if merged[key] <= 0:
            raise UserError(f"trainer.{key} must be a positive integer, got {merged[key]}")
    for key in NON_NEGATIVE_INTS:
        if merged[key] is not None and merged[key] < 0:
            raise UserError(f"trainer.{key} must be >= 0, got {merged[key]}")
    for key, allowed in CHOICES.items():
        if merged[key] not in allowed:
            raise UserError(f"trainer.{key} must be one of {', '.join(allowed)}, got {merged[key]!r}")
    if merged.max_epochs is not None and merged.max_epochs <= 0:
        raise UserError(f"trainer.max_epochs must be positive, got {merged.max_epochs}")
    if merged.max_steps is None and merged.max_epochs is None:
        raise UserError(
            "trainer.max_steps and trainer.max_epochs are both null, so training would never stop; "
            "set one of them, e.g. trainer.max_steps=2000"
        )
    if not 0.0 <= merged.ema_decay < 1.0:
        raise UserError(f"trainer.ema_decay must be in [0, 1), got {merged.ema_decay}")
    if merged.grad_clip is not None and merged.grad_clip <= 0:
        raise UserError(f"trainer.grad_clip must be positive or null, got {merged.grad_clip}")
    return merged


def validate_optimizer(optimizer_cfg: DictConfig) -> None:
    for name in ("generator", "discriminator"):
        lr = optimizer_cfg[name].get("lr")
        if lr is None or not isinstance(lr, (int, float)) or lr <= 0:
            raise UserError(f"optimizer.{name}.lr must be a positive number, got {lr!r} (set optimizer.lr=...)")


def validate_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UserError(f"seed must be a non-negative integer, got {seed!r}")
    return seed
