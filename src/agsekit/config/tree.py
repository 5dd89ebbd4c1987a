"""The YAML document as ruamel reads it, and as plain Python values for validation."""

from __future__ import annotations

from typing import Any

from ruamel.yaml.scalarbool import ScalarBoolean


def to_plain(node: Any) -> Any:
    """Plain dicts, lists and scalars (keys kept in order).

    ruamel's round-trip scalars are subclasses that validation would take at face value:
    an anchored `true` is a ScalarBoolean, which is an int, so `cpu: &x true` would be 1.
    """
    if isinstance(node, dict):
        return {_key(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    return _scalar(node)


def _key(key: Any) -> str:
    plain = _scalar(key)
    if plain is None or isinstance(plain, bool):
        return {None: "null", True: "true", False: "false"}[plain]
    return plain if isinstance(plain, str) else str(plain)


def _scalar(value: Any) -> Any:
    if isinstance(value, (bool, ScalarBoolean)):
        return bool(value)
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value
