"""`${NAME}` references in config values, filled in from the host's environment when a
command runs (so that a key or a password need not be written into the config)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Filled:
    """What filling in gave: the values substituted (secrets, for masking) and the names
    the host does not have."""

    used: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)

    def fill(self, template: str, host: Mapping[str, str]) -> str:
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in host:
                self.missing.append(name)
                return ""
            if host[name]:
                self.used.add(host[name])
            return host[name]

        return REFERENCE.sub(substitute, template)

    def missing_names(self) -> str:
        return ", ".join(sorted(set(self.missing)))
