"""The environment an agent is given: `${NAME}` values come from the host at run time.

Values that came from the host's environment are treated as secrets: they reach the VM
only on the launcher's standard input (never on a command line, never as a file), and are
masked wherever agsekit shows or logs text.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agsekit.core.display import MASK
from agsekit.core.errors import ConfigError
from agsekit.core.references import Filled

LINE = 76


@dataclass(frozen=True)
class AgentEnvironment:
    values: tuple[tuple[str, str], ...]
    secrets: frozenset[str]  # the substituted values, for masking

    def payload(self) -> bytes:
        """NUL-separated NAME=VALUE records."""
        return b"".join(f"{k}={v}".encode() + b"\0" for k, v in self.values)

    def handover(self) -> bytes:
        """What the launcher reads: the records in base64 lines of 76 characters, then a
        line holding a single dot. No byte of it is a control character for a terminal."""
        encoded = base64.b64encode(self.payload())
        lines = [encoded[i : i + LINE] for i in range(0, len(encoded), LINE)]
        return b"".join(line + b"\n" for line in [*lines, b"."])

    def mask(self, text: str) -> str:
        return mask(text, self.secrets)


def resolve_environment(
    agent: str, env: Iterable[tuple[str, str]], host: Mapping[str, str]
) -> AgentEnvironment:
    """Substitute ${NAME} with the host's variable NAME; a missing one is an error."""
    filled = Filled()
    values = tuple((key, filled.fill(template, host)) for key, template in env)
    if filled.missing:
        raise ConfigError(
            f"agent {agent!r} needs the environment variable(s) {filled.missing_names()}, "
            "which are not set",
            problems=[f"set them before running, e.g.: export {filled.missing[0]}=..."],
        )
    return AgentEnvironment(values, frozenset(filled.used))


def mask(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text
