"""Checks on single strings of the config: names and control characters.

Each check returns the value (possibly normalised) or raises ValueError with the sentence a
user reads; schema.py attaches them to fields, so pydantic reports them with their key path.
"""

from __future__ import annotations

import re
import unicodedata

VM_NAME = re.compile(r"[a-zA-Z]([a-zA-Z0-9-]*[a-zA-Z0-9])?")
AGENT_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_-]*")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Cc: C0/C1 controls and DEL; Cf: invisible formatting such as bidi overrides, which make a
# name or a path read differently from what it is; Zl/Zp: line breaks; Cs: lone surrogates.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def no_control(value: str) -> str:
    for char in value:
        if unicodedata.category(char) in _CONTROL_CATEGORIES:
            raise ValueError(f"must not contain control characters (found U+{ord(char):04X})")
    return value


def vm_name(value: str) -> str:
    if not VM_NAME.fullmatch(value):
        raise ValueError(
            "not a valid VM name: letters, digits and '-', starting with a letter "
            "and not ending with '-'"
        )
    return value


def agent_name(value: str) -> str:
    if not AGENT_NAME.fullmatch(value):
        raise ValueError(
            "not a valid agent name: letters, digits, '-' and '_', starting with a letter"
        )
    return value


def env_name(value: str) -> str:
    if not ENV_NAME.fullmatch(value):
        raise ValueError(
            "not a valid environment variable name: letters, digits and '_', "
            "not starting with a digit"
        )
    return value
