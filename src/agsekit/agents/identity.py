"""Where an agent lives in the VM.

With `isolation: user` (the default) each configured agent has a user of its own in the
VM, `agsekit-NAME`: no sudo, no extra groups, a home only it can read. Its program is
installed under /opt/agsekit/agents/NAME, owned by root, so no agent can change what
another one (or itself, next time) will run, and it is started by that absolute path.
With `isolation: none` it is the VM's default user and its ~/.local, as before.
"""

from __future__ import annotations

import hashlib
import re

from agsekit.agents.catalogue import AgentKind
from agsekit.config.model import AgentSpec

PREFIX = "/opt/agsekit/agents"
USER_PREFIX = "agsekit-"
_MAX_USER = 32  # useradd's limit
_NOT_ALLOWED = re.compile(r"[^a-z0-9-]+")


def slug(name: str) -> str:
    """The agent's name as a user-name and folder-name part: lowercase letters, digits and
    '-'; a short hash is added when that changed the name, so two names never collide."""
    cleaned = _NOT_ALLOWED.sub("-", name.lower()).strip("-") or "agent"
    room = _MAX_USER - len(USER_PREFIX)
    if cleaned == name and len(cleaned) <= room:
        return cleaned
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{cleaned[: room - 7].rstrip('-')}-{digest}"


def isolated(agent: AgentSpec) -> bool:
    return agent.isolation == "user"


def guest_user(agent: AgentSpec) -> str:
    return USER_PREFIX + slug(agent.name)


def install_dir(agent: AgentSpec) -> str:
    return f"{PREFIX}/{slug(agent.name)}"


def binary_path(agent: AgentSpec, kind: AgentKind) -> str:
    return f"{install_dir(agent)}/bin/{kind.binary}"


def has_secrets(agent: AgentSpec) -> bool:
    """Whether the config hands this agent values (keys, tokens) in its environment, its
    `model:` key included."""
    return bool(agent.env) or bool(agent.model and agent.model.api_key)
