"""Nested dicts as one level of dotted keys."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def flatten(node, prefix: str = "", is_leaf: Callable[[Any], bool] | None = None) -> dict:
    """{"a": {"b": 1}, "c": 2} -> {"a.b": 1, "c": 2}; a non-mapping (or a mapping is_leaf accepts, kept
    whole) is returned under `prefix`."""
    if not isinstance(node, Mapping) or (is_leaf is not None and is_leaf(node)):
        return {prefix: node}
    flat = {}
    for key, value in node.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key), is_leaf))
    return flat
