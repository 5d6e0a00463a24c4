"""Nested dicts as one level of dotted keys."""

from __future__ import annotations

from collections.abc import Mapping


def flatten(node, prefix: str = "") -> dict:
    """{"a": {"b": 1}, "c": 2} -> {"a.b": 1, "c": 2}; a non-mapping is returned under `prefix`."""
    if not isinstance(node, Mapping):
        return {prefix: node}
    flat = {}
    for key, value in node.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat
