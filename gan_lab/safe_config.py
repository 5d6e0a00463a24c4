"""What a config read from a file (a checkpoint) may build: an allowlist, checked before anything runs.

A checkpoint carries the resolved config of its run, and the models are rebuilt from it with
hydra.utils.instantiate, so whoever wrote the file would choose every `_target_`. Hydra only blocks a few
names; `torch.load` of a pickle beside the file, `numpy.load(allow_pickle=True)` and many others would run
code. So a stored config is checked as a whole when it is read, and each node again right before it is
instantiated:

- a `_target_` must be a class defined in one of ALLOWED_CLASS_MODULES (the models, losses and data modules
  of gan_lab) or one of ALLOWED_CALLABLES (a few named functions and torch optimizers the recipes use);
  anything else is refused by name, before it is imported or called;
- every value is plain data (str, int, float, bool, None, lists and dicts), with no `${...}` interpolation;
- `_args_`, `_partial_` and nested nodes are walked the same way, so no trick reaches something else.

Configs the user composed (conf/ plus their own command line) are not restricted: they may name their own
code. `trust_checkpoint=true` lifts the check for a file the user trusts; that file can then run any code.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from gan_lab.errors import UserError

# Classes defined in these modules (and their submodules) may be built from a stored config.
ALLOWED_CLASS_MODULES = ("gan_lab.models", "gan_lab.losses", "gan_lab.data")
# Exactly these names, besides: a schedule factory and the torch optimizers a recipe may use (partials).
ALLOWED_CALLABLES = frozenset({
    "gan_lab.training.schedules.linear_decay",
    "torch.optim.Adam",
    "torch.optim.AdamW",
    "torch.optim.SGD",
    "torch.optim.RMSprop",
})
PLAIN_SCALARS = (str, int, float, bool, type(None))
UNTRUSTED_FLAG = "gan_lab_untrusted"  # an OmegaConf flag on a config read from a file; children inherit it
TRUST_HINT = "pass trust_checkpoint=true only if you trust whoever wrote the file: it can then run any code"


def target_allowed(target: str) -> bool:
    """True when `target` names an allowed class or callable. Imports nothing outside gan_lab."""
    if target in ALLOWED_CALLABLES:
        return True
    if not any(target.startswith(prefix + ".") for prefix in ALLOWED_CLASS_MODULES):
        return False  # refused on the string alone: nothing is imported
    from hydra.utils import get_object  # hydra's own lookup, so the object checked is the one instantiated

    try:
        # Every module this can import is named gan_lab.<...>, i.e. is gan_lab's own code.
        obj = get_object(target)
    except Exception:  # noqa: BLE001 - a name that does not resolve is simply not allowed
        return False
    # A class defined in the allowed modules, not something reached through them (gan_lab.data.x.np.load,
    # gan_lab.data.x.MNISTData.dataset_class, a function of the module): those are other people's code.
    module = getattr(obj, "__module__", "") or ""
    return inspect.isclass(obj) and any(module == p or module.startswith(p + ".") for p in ALLOWED_CLASS_MODULES)


def _refuse(source: str, key: str, what: str) -> UserError:
    return UserError(f"{source}: {key} {what}; refused before anything was imported or run ({TRUST_HINT})")


def _walk(value, key: str, source: str) -> None:
    if isinstance(value, Mapping):
        if "_target_" in value:
            target = value["_target_"]
            if not isinstance(target, str):
                raise _refuse(source, f"{key}._target_", f"is a {type(target).__name__}, not a name")
            if not target_allowed(target):
                raise _refuse(
                    source, f"{key}._target_={target}",
                    "is not one of gan_lab's models, losses, data sets or optimizers",
                )
        for name, item in value.items():
            if not isinstance(name, (str, int)):
                raise _refuse(source, key or "the config", f"has a {type(name).__name__} key")
            _walk(item, f"{key}.{name}" if key else str(name), source)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _walk(item, f"{key}[{index}]", source)
    elif not isinstance(value, PLAIN_SCALARS):
        raise _refuse(source, key, f"holds a {type(value).__name__}, not plain data")
    elif isinstance(value, str) and "${" in value:
        raise _refuse(source, key, f"holds an interpolation {value[:60]!r}, which a saved config never has")


def check_stored_config(
    config, source: str | Path, trust: bool = False, also_allowed: Iterable[str] = ()
) -> None:
    """Raise UserError (one line naming the key and target) unless `config` only builds allowed things.

    `also_allowed`: targets the user's own config names (train.py trainer.resume compares the stored config
    with the composed one, and builds only the latter).
    """
    if trust:
        return
    if isinstance(config, DictConfig):
        config = OmegaConf.to_container(config, resolve=False)
    extra = set(also_allowed)
    if extra:
        config = _drop_targets(config, extra)
    _walk(config, "", f"config stored in {source}")


def _drop_targets(value, allowed: set[str]):
    """A copy without the `_target_` entries the user's own config names (the rest is still checked)."""
    if isinstance(value, Mapping):
        return {
            k: _drop_targets(v, allowed) for k, v in value.items()
            if not (k == "_target_" and isinstance(v, str) and v in allowed)
        }
    if isinstance(value, (list, tuple)):
        return [_drop_targets(v, allowed) for v in value]
    return value


def targets_in(config) -> set[str]:
    """Every `_target_` string in a (plain or OmegaConf) config."""
    if isinstance(config, DictConfig):
        config = OmegaConf.to_container(config, resolve=False)
    found: set[str] = set()
    if isinstance(config, Mapping):
        if isinstance(config.get("_target_"), str):
            found.add(config["_target_"])
        for item in config.values():
            found |= targets_in(item)
    elif isinstance(config, (list, tuple)):
        for item in config:
            found |= targets_in(item)
    return found


def load_stored_config(config: dict, source: str | Path, trust: bool = False) -> DictConfig:
    """The stored config as a DictConfig after the check; unless trusted it is flagged, so that every
    node is checked again right before it is instantiated (check_before_instantiate)."""
    check_stored_config(config, source, trust)
    cfg = OmegaConf.create(config)
    if not trust:
        cfg._set_flag(UNTRUSTED_FLAG, True)
    return cfg


def is_untrusted(node) -> bool:
    return isinstance(node, DictConfig) and bool(node._get_flag(UNTRUSTED_FLAG))


def check_before_instantiate(node, what: str) -> None:
    """The last gate: a node of a flagged config (changed since it was read, e.g. a relocated data root)
    is checked again just before hydra builds it."""
    if is_untrusted(node):
        _walk(OmegaConf.to_container(node, resolve=False), what, "config read from a checkpoint")
