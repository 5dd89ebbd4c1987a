"""The validated configuration as frozen types. Commands receive these, never raw YAML."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from agsekit.core.paths import really_within

# the agent types of agents/catalogue.py (a test keeps the two lists the same)
AGENT_TYPES = (
    "claude",
    "codex",
    "gemini",
    "qwen",
    "opencode",
    "cline",
    "copilot",
    "crush",
    "aider",
)

# Which exclusion rules a snapshot applies: "host" only the config's `exclude` patterns
# (in-tree .backupignore files are not read at all), "tree" only .backupignore files,
# "both" both.
IgnoreFiles = Literal["host", "tree", "both"]
IGNORE_FILES_MODES: tuple[IgnoreFiles, ...] = ("host", "tree", "both")
# The share of the snapshot store's filesystem (space and inodes) a snapshot must leave free.
DEFAULT_RESERVE = 0.05


@dataclass(frozen=True)
class Proxies:
    """The proxy keys of one level (a VM, an agent, or `run`'s options). None: not set here,
    so the level below decides; "": set to nothing, which turns proxies off."""

    http_proxy: str | None = None
    proxychains: str | None = None

    @property
    def set(self) -> bool:
        return self.http_proxy is not None or self.proxychains is not None


ForwardType = Literal["local", "remote", "socks5"]
FORWARD_TYPES: tuple[ForwardType, ...] = ("local", "remote", "socks5")
WILDCARD_HOSTS = frozenset({"*", "0.0.0.0", "::"})  # noqa: S104 - compared, never bound


@dataclass(frozen=True)
class Address:
    host: str  # an IPv6 address without its brackets
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def overlaps(self, other: Address) -> bool:
        """Two listening addresses that cannot both be bound."""
        if self.port != other.port:
            return False
        return self.host == other.host or bool({self.host, other.host} & WILDCARD_HOSTS)


@dataclass(frozen=True)
class Forward:
    """One `port-forwarding` entry. local: the VM's vm_addr is reachable on the host at
    host_addr; remote: the host's host_addr is reachable in the VM at vm_addr; socks5: a
    SOCKS proxy listening in the VM at vm_addr whose connections leave from the host."""

    type: ForwardType
    vm_addr: Address
    host_addr: Address | None = None

    @property
    def listens_on_host(self) -> bool:
        return self.type == "local"

    @property
    def listen(self) -> Address:
        if self.type == "local" and self.host_addr is not None:
            return self.host_addr
        return self.vm_addr

    def describe(self) -> str:
        if self.type == "local":
            return f"local: host {self.host_addr} -> VM {self.vm_addr}"
        if self.type == "remote":
            return f"remote: VM {self.vm_addr} -> host {self.host_addr}"
        return f"socks5: SOCKS proxy in the VM at {self.vm_addr}, out through the host"


NetworkMode = Literal["open", "allowlist"]


@dataclass(frozen=True)
class NetworkPolicy:
    """Where an agent's traffic may go. "open": anywhere (nothing is checked); "allowlist":
    only to the hosts of `allow` (entries as written: presets, domains, *.wildcards,
    addresses), and never to the host or a private range when block_host_and_lan."""

    mode: NetworkMode = "open"
    allow: tuple[str, ...] = ()
    block_host_and_lan: bool = False

    @property
    def enforced(self) -> bool:
        return self.mode == "allowlist"


@dataclass(frozen=True)
class NetworkKeys:
    """The `network:` keys one level sets (None: not set there, the level below decides)."""

    mode: NetworkMode | None = None
    allow: tuple[str, ...] | None = None
    block_host_and_lan: bool | None = None

    def over(self, base: NetworkPolicy) -> NetworkPolicy:
        """These keys over base's; block_host_and_lan defaults to true in allowlist mode."""
        mode = self.mode or base.mode
        if mode == "open":
            return NetworkPolicy()
        allow = self.allow if self.allow is not None else base.allow
        block = self.block_host_and_lan
        if block is None:
            block = base.block_host_and_lan if base.enforced else True
        return NetworkPolicy(mode, allow, block)


@dataclass(frozen=True)
class BundleSpec:
    """An item of a VM's `install:`: a catalogued bundle, and the version asked for (None:
    the bundle's default)."""

    name: str
    version: str | None = None


@dataclass(frozen=True)
class VmSpec:
    name: str
    cpu: int
    ram: str
    disk: str
    cloud_init: dict[str, Any] = field(default_factory=dict)
    proxies: Proxies = field(default_factory=Proxies)
    allowed_agents: frozenset[str] | None = None  # None: every agent may run here
    forwards: tuple[Forward, ...] = ()
    install: tuple[BundleSpec, ...] = ()  # toolchain bundles (provision/catalogue.py)
    network: NetworkPolicy = field(default_factory=NetworkPolicy)


@dataclass(frozen=True)
class RetentionPolicy:
    """Keep every snapshot younger than keep_within, plus the newest of each of the last
    N hours / days / weeks / months that have one."""

    keep_within: timedelta = timedelta(hours=2)
    keep_hourly: int = 48
    keep_daily: int = 30
    keep_weekly: int = 12
    keep_monthly: int = 12


@dataclass(frozen=True)
class AlarmPolicy:
    """A new snapshot that lost at least this share of files, or this many, raises the alarm."""

    deleted_fraction: float = 0.5
    deleted_files: int = 1000
    enabled: bool = True


@dataclass(frozen=True)
class Timing:
    """When the background service snapshots a mount after a change, in seconds: once the
    tree has been quiet for `debounce`, but no later than `max_delay` after the first
    change, and never sooner than `min_interval` after the mount's last snapshot."""

    debounce: float = 10.0
    max_delay: float = 60.0
    min_interval: float = 30.0


@dataclass(frozen=True)
class MountSpec:
    source: Path
    target: str
    backup: Path
    interval_minutes: float
    vm: str
    retention: RetentionPolicy
    # Host-side rules, which an agent inside the VM cannot edit:
    exclude: tuple[str, ...] = ()  # gitignore patterns anchored at the source
    ignore_files: IgnoreFiles = "both"
    reserve: float = DEFAULT_RESERVE  # a fraction: 0.05 is 5%
    timing: Timing = field(default_factory=Timing)
    allowed_agents: frozenset[str] | None = None  # None: every agent may work on it

    def contains(self, path: Path) -> bool:
        """True when path is the source or lies inside it (symlinks resolved on both sides)."""
        return really_within(path, self.source)


# What the endpoint given in an agent's `model:` must speak, for each type that can take one.
ENDPOINT_APIS = {
    "claude": "the Anthropic Messages API",
    "codex": "the OpenAI Responses API",
    "qwen": "the OpenAI Chat Completions API",
    "opencode": "the OpenAI Chat Completions API",
    "aider": "the OpenAI Chat Completions API",
}


@dataclass(frozen=True)
class ModelEndpoint:
    """An agent's `model:`: where its model is served, which one, and the ${VAR} holding
    the key (None: the server needs none)."""

    base_url: str
    model: str
    api_key: str | None = None


@dataclass(frozen=True)
class AgentSpec:
    name: str
    type: str
    vm: str | None
    version: str | None
    default_args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    # "user": its own user in the VM, installed where agents cannot write; "none": the
    # VM's default user, as before (agents sharing the VM can then read each other's keys)
    isolation: str = "user"
    proxies: Proxies = field(default_factory=Proxies)
    model: ModelEndpoint | None = None
    network: NetworkKeys | None = None  # the agent's own keys, over its VM's policy


@dataclass(frozen=True)
class Config:
    path: Path | None
    vms: dict[str, VmSpec]
    mounts: tuple[MountSpec, ...]
    retention: RetentionPolicy
    alarm: AlarmPolicy
    agents: dict[str, AgentSpec]
    ignore_files: IgnoreFiles = "both"  # what mounts inherit unless they set their own
    reserve: float = DEFAULT_RESERVE
    timing: Timing = field(default_factory=Timing)
    watch_budget: int | None = None  # inotify watches the service may use; None: half the limit

    def network_for(self, agent: AgentSpec, vm: str) -> NetworkPolicy:
        """The policy an agent runs under in vm: the agent's keys over the VM's policy."""
        spec = self.vms.get(vm)
        base = spec.network if spec is not None else NetworkPolicy()
        return agent.network.over(base) if agent.network is not None else base

    def mount_for(self, path: Path) -> MountSpec | None:
        """The mount whose source holds path; the deepest source wins."""
        holders = [m for m in self.mounts if m.contains(path)]
        return max(holders, key=lambda m: len(str(m.source)), default=None)


def allowed(names: list[str] | None) -> frozenset[str] | None:
    """An allowed_agents list as a set; None (the key is absent) allows every agent."""
    return None if names is None else frozenset(names)
