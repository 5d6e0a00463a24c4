"""What Hydra's schemas cannot check (ranges, cross-field rules), in one place, and the plain config handed on.

Hydra checks keys, types and Enum choices while composing (gan_lab.config.schemas). `validate` merges a
section onto its schema (the same checks, for configs built in code or read from a checkpoint), checks the
`range` metadata of every field and the schema's cross-field rule, and returns the section as plain strings
(Enums by value), so that checkpoints, JSON and W&B only ever see built-in types.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gan_lab.config.schemas import CROSS_CHECKS, TrainerConfig
from gan_lab.errors import UserError


def one_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0]


def schema_error(err: OmegaConfBaseException, prefix: str = "") -> str:
    """One line for OmegaConf's complaint about a key or value, e.g. `trainer.nonfinite must be one of
    stop, skip, got 'ignore'`."""
    key = f"{prefix}{getattr(err, 'full_key', None) or '?'}"
    message = one_line(err)
    if message.startswith("Invalid value") and "expected one of [" in message:
        got = message.split("'")[1] if message.count("'") >= 2 else "?"
        allowed = message.split("expected one of [", 1)[1].rstrip("]")
        return f"{key} must be one of {allowed}, got {got!r}"
    return f"{key}: {message}"


def check_ranges(cfg: Any, schema: type, prefix: str = "") -> None:
    """The `range` metadata of every field of schema (and of nested schemas), against cfg's values."""
    for spec in dataclasses.fields(schema):
        value = cfg[spec.name]
        nested = _nested_schema(spec)
        if nested is not None:
            check_ranges(value, nested, f"{prefix}{spec.name}.")
        elif "range" in spec.metadata and value is not None:
            says, ok = spec.metadata["range"]
            if isinstance(value, bool) or not ok(value):
                raise UserError(f"{prefix}{spec.name} {says}, got {value}")
    rule = CROSS_CHECKS.get(schema)
    problem = rule(cfg) if rule else None
    if problem:
        raise UserError(problem)


def _nested_schema(spec: dataclasses.Field) -> type | None:
    if spec.default_factory is dataclasses.MISSING:
        return None
    default = spec.default_factory()
    return type(default) if dataclasses.is_dataclass(default) else None


def plain(cfg: DictConfig) -> DictConfig:
    """cfg with Enum values as their strings and no schema attached (interpolations kept); still in
    struct mode, so a misspelt key read by the code fails instead of returning None."""
    plain_cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False, enum_to_str=True))
    OmegaConf.set_struct(plain_cfg, True)
    return plain_cfg


def validate(cfg: Any, schema: type, prefix: str = "") -> DictConfig:
    """cfg merged onto schema (unknown keys and wrong types fail), ranges checked; returned plain."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), cfg)
    except OmegaConfBaseException as err:
        raise UserError(schema_error(err, prefix)) from err
    check_ranges(merged, schema, prefix)
    return plain(merged)


def validate_trainer(trainer_cfg: DictConfig) -> DictConfig:
    return validate(trainer_cfg, TrainerConfig, "trainer.")


def validate_optimizer(optimizer_cfg: DictConfig) -> None:
    """The optimizers stay open (any torch.optim class via _target_); only the learning rates are checked."""
    for name in ("generator", "discriminator"):
        lr = optimizer_cfg[name].get("lr")
        if lr is None or not isinstance(lr, (int, float)) or lr <= 0:
            raise UserError(f"optimizer.{name}.lr must be a positive number, got {lr!r} (set optimizer.lr=...)")


def validate_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UserError(f"seed must be a non-negative integer, got {seed!r}")
    return seed
