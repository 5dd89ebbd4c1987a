"""The agent types agsekit knows: how each is installed in the VM and started."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Installer = Literal["npm", "pipx"]

# Node.js for npm-distributed agents: an LTS release from nodejs.org, checked against the
# release's SHASUMS256.txt before it is unpacked.
NODE_VERSION = "24.21.0"


@dataclass(frozen=True)
class AgentKind:
    type: str
    title: str
    binary: str  # the command started in the VM
    installer: Installer
    package: str  # npm or PyPI package name
    min_node: int = 0  # lowest Node.js major version it runs on (npm agents)
    api_host: str = "api.openai.com"  # what doctor asks a proxy to reach for it


CATALOGUE: dict[str, AgentKind] = {
    kind.type: kind
    for kind in (
        AgentKind(
            "claude",
            "Claude Code",
            "claude",
            "npm",
            "@anthropic-ai/claude-code",
            22,
            "api.anthropic.com",
        ),
        AgentKind("codex", "Codex CLI", "codex", "npm", "@openai/codex", 20),
        AgentKind(
            "gemini",
            "Gemini CLI",
            "gemini",
            "npm",
            "@google/gemini-cli",
            20,
            "generativelanguage.googleapis.com",
        ),
        AgentKind(
            "qwen", "Qwen Code", "qwen", "npm", "@qwen-code/qwen-code", 22, "dashscope.aliyuncs.com"
        ),
        AgentKind("opencode", "opencode", "opencode", "npm", "opencode-ai", 20),
        AgentKind("cline", "Cline CLI", "cline", "npm", "cline", 20),
        AgentKind(
            "copilot",
            "GitHub Copilot CLI",
            "copilot",
            "npm",
            "@github/copilot",
            22,
            "api.github.com",
        ),
        AgentKind("crush", "Crush", "crush", "npm", "@charmland/crush", 20),
        AgentKind("aider", "aider", "aider", "pipx", "aider-chat"),
    )
}


def kind_of(agent_type: str) -> AgentKind:
    return CATALOGUE[agent_type]
