"""Check command-line overrides before Hydra runs, so a typo costs one line and exit code 2.

Hydra reports an unknown group option (`model=dcgann`) or key (`trainer.max_step=3`)
with a multi-line message and exit code 1 before any gan_lab code runs. The entry
points call `check_command_line` first: it composes the config with the same
overrides through Hydra's compose API (~0.1 s) and turns a failure into one line,
e.g. `unknown model 'dcgann'; choose one of: dcgan`. With --multirun, each option
of a swept config group is composed once. Whatever the check cannot interpret
(--help, --config-dir, ...) is left to Hydra, and a bug in the check never blocks
a run: only composition failures are reported.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig

from gan_lab.errors import UserError, debug_enabled


def _hydra_args(argv: list[str]):
    """Hydra's own parse of the command line, or None when the check should stay out of the way."""
    from hydra._internal.utils import get_args_parser

    try:
        args = get_args_parser().parse_args(argv)
    except SystemExit:  # argparse already printed its usage error
        return None
    flags = ("help", "hydra_help", "shell_completion", "info", "config_dir", "config_path", "experimental_rerun")
    if any(getattr(args, flag, None) for flag in flags):
        return None
    return args


def _override_line(override, value: str) -> str:
    return f"{override.get_key_element()}={value}"


def _is_group(loader, name: str) -> bool:
    try:
        return bool(loader.get_group_options(name))
    except Exception:
        return False


def _compositions(overrides: list[str], multirun: bool, loader) -> list[list[str]]:
    """The override lists to compose: the command line itself for a single run; for a
    multirun the first value of every sweep, plus one list per other option of a swept group."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create(config_loader=loader).parse_overrides(overrides)
    if not multirun:
        return [overrides]
    base: list[str] = []
    swept_groups: list[tuple[int, object, list[str]]] = []
    for override in parsed:
        if not override.is_sweep_override():
            base.append(override.input_line)
            continue
        if not override.is_discrete_sweep():  # interval(...) for Optuna: nothing to enumerate
            continue
        values = list(override.sweep_string_iterator())
        if not values:
            continue
        base.append(_override_line(override, values[0]))
        if _is_group(loader, override.key_or_group):
            swept_groups.append((len(base) - 1, override, values[1:]))
    variants = [base]
    for position, override, values in swept_groups:
        for value in values:
            variant = list(base)
            variant[position] = _override_line(override, value)
            variants.append(variant)
    return variants


def _all_keys(node, prefix: str = "") -> list[str]:
    keys = []
    if isinstance(node, DictConfig):
        for key in node.keys():
            full = f"{prefix}{key}"
            keys.append(full)
            try:
                child = node._get_node(key)
            except Exception:
                continue
            if isinstance(child, DictConfig):
                keys += _all_keys(child, full + ".")
    return keys


def _closest_key(key: str, compose_without: Callable[[str], DictConfig | None]) -> str | None:
    cfg = compose_without(key)
    if cfg is None:
        return None
    keys = _all_keys(cfg)
    parent = key.rsplit(".", 1)[0] if "." in key else ""
    siblings = [k for k in keys if k.rsplit(".", 1)[0] == parent] if parent else [k for k in keys if "." not in k]
    same_depth = [k for k in keys if k.count(".") == key.count(".")]  # a typo in a parent name
    for pool in (siblings, same_depth):
        match = difflib.get_close_matches(key, pool, n=1, cutoff=0.6)
        if match:
            return match[0]
    return None


def explain(err: Exception, compose_without: Callable[[str], DictConfig | None]) -> str:
    """One line for a Hydra composition failure."""
    from hydra.errors import MissingConfigException, OverrideParseException
    from omegaconf.errors import ConfigTypeError, ValidationError

    from gan_lab.config.validate import schema_error

    cause = err.__cause__
    if isinstance(cause, ValidationError):  # a wrong type or choice, found by a schema in gan_lab.config
        return schema_error(cause)
    if isinstance(cause, ConfigTypeError) and "does not support deletion" in str(cause):
        key = cause.full_key
        return f"cannot delete {key}: its schema (gan_lab/config/schemas.py) needs it; set {key}=... instead"
    text = str(err).strip()
    first = text.splitlines()[0] if text else type(err).__name__
    if isinstance(err, MissingConfigException) and err.options is not None and err.missing_cfg_file:
        group, _, name = err.missing_cfg_file.rpartition("/")
        if group:
            choices = ", ".join(err.options) or "(none)"
            return f"unknown {group} '{name}'; choose one of: {choices}"
    if isinstance(err, OverrideParseException):
        reason = text.splitlines()[1] if len(text.splitlines()) > 1 else "syntax error"
        return (
            f"cannot parse override {getattr(err, 'override', '')!r}: {reason} "
            f"(write key=value; https://hydra.cc/docs/advanced/override_grammar/basic)"
        )
    match = re.match(r"Could not override '([^']+)'", first)
    if match:
        key = match.group(1)
        closest = _closest_key(key, compose_without)
        hint = f"; did you mean {closest}?" if closest else ""
        return f"unknown key {key}{hint} (to add a new key write +{key}=...)"
    match = re.match(r"Could not delete from config\. '([^']+)' does not exist", first)
    if match:
        key = match.group(1)
        closest = _closest_key(key, compose_without)
        if closest == key:  # Hydra treats a key whose value is null as absent
            return f"cannot delete {key}: its value is already null; set it with {key}=... instead"
        hint = f"; did you mean ~{closest}?" if closest else ""
        return f"cannot delete {key}: no such key{hint}"
    match = re.match(r"Could not append to config\. An item is already at '([^']+)'", first)
    if match:
        key = match.group(1)
        return f"{key} already exists: set it with {key}=... (+ adds new keys only; ++ adds or overrides)"
    if first.startswith("Ambiguous value for argument"):
        argument = first.removeprefix("Ambiguous value for argument").strip(" '")
        return (
            f"{argument}: a comma-separated value needs --multirun to sweep over it "
            f"(or [a,b] for a list, quotes for a string)"
        )
    return f"invalid command line: {first}"


def check_overrides(
    config_dir: str | Path,
    config_name: str,
    overrides: list[str],
    multirun: bool = False,
    validate: Callable[[DictConfig], None] | None = None,
) -> None:
    """Raise UserError with one line when Hydra would refuse these overrides (or validate rejects the config)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    with initialize_config_dir(config_dir=str(Path(config_dir).resolve()), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()

        def compose_without(key: str) -> DictConfig | None:
            kept = [o for o in overrides if o.lstrip("+~").split("=", 1)[0].split("@", 1)[0] != key]
            try:
                return compose(config_name=config_name, overrides=kept, return_hydra_config=key.startswith("hydra"))
            except Exception:
                return None

        try:
            variants = _compositions(overrides, multirun, loader)
            configs = [compose(config_name=config_name, overrides=variant) for variant in variants]
        except Exception as err:
            raise UserError(explain(err, compose_without)) from err
    if validate is not None:
        for cfg in configs:
            try:
                validate(cfg)
            except UserError:
                raise
            except Exception:  # e.g. an interpolation only the real run can resolve: leave it to the run
                pass


def check_command_line(
    config_dir: str | Path,
    config_name: str,
    validate: Callable[[DictConfig], None] | None = None,
    argv: list[str] | None = None,
) -> None:
    """Entry-point guard: print `error: ...` and exit with code 2 on a bad command line.

    Skipped with debug=true (Hydra then reports the problem itself, with its full message).
    """
    argv = sys.argv[1:] if argv is None else argv
    if debug_enabled():
        return
    try:
        args = _hydra_args(argv)
        if args is None:
            return
        if getattr(args, "cfg", None):  # --cfg job only prints the config: check composition, not values
            validate = None
        check_overrides(config_dir, args.config_name or config_name, list(args.overrides), args.multirun, validate)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except Exception:  # a problem of the check itself: let Hydra run and report
        return
