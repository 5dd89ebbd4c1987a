"""install-agents: put each configured agent (and Node.js where it needs it) into its VM.

A run first asks the VM, in one call, what is installed; only what is missing, or pinned
to another version, or asked to be upgraded, is installed. So a run where everything is in
place takes one round trip per VM.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from agsekit.agents import scripts
from agsekit.agents.catalogue import NODE_VERSION, AgentKind, kind_of
from agsekit.config.model import AgentSpec, Config
from agsekit.core.errors import AgsekitError, UsageError
from agsekit.core.reporting import Reporter
from agsekit.vm.backend import VmBackend


class InstallError(AgsekitError):
    pass


@dataclass(frozen=True)
class Installed:
    node: str | None
    packages: dict[str, str | None]  # package -> version (None: missing)


@dataclass(frozen=True)
class AgentResult:
    agent: str
    vm: str
    version: str | None
    action: str  # "present", "installed", "upgraded"


def agents_to_install(config: Config, names: Sequence[str], all_agents: bool) -> list[AgentSpec]:
    if all_agents or not names:
        if not config.agents:
            raise UsageError(
                f"no agents in {config.path}",
                hint="add one under 'agents:' (see `agsekit config-example`)",
            )
        return list(config.agents.values())
    unknown = [n for n in names if n not in config.agents]
    if unknown:
        known = ", ".join(config.agents) or "none"
        raise UsageError(f"no agent named {unknown[0]!r} in the config (known: {known})")
    return [config.agents[n] for n in names]


def vm_of(agent: AgentSpec, config: Config) -> str:
    if agent.vm is not None:
        return agent.vm
    mount_vms = {m.vm for m in config.mounts}
    if len(mount_vms) == 1:
        return next(iter(mount_vms))
    if config.vms:
        return next(iter(config.vms))
    raise UsageError("no VM configured", hint="add one under 'vms:' in the config")


def check_installed(backend: VmBackend, vm: str, kinds: Sequence[AgentKind]) -> Installed:
    items = [f"{k.installer}:{k.package}" for k in kinds]
    result = backend.exec(vm, ["bash", "-c", scripts.CHECK, "agsekit-check", *items])
    if result.returncode != 0:
        raise InstallError(f"could not look at what is installed in {vm}: {_tail(result.stderr)}")
    node: str | None = None
    packages: dict[str, str | None] = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "node":
            node = None if parts[1] == "-" else parts[1]
        elif len(parts) == 3:
            packages[parts[1]] = None if parts[2] == "-" else parts[2]
    return Installed(node, packages)


def install_agents(
    config: Config,
    agents: Sequence[AgentSpec],
    backend: VmBackend,
    reporter: Reporter,
    *,
    upgrade: bool = False,
) -> list[AgentResult]:
    by_vm: dict[str, list[AgentSpec]] = {}
    for agent in agents:
        by_vm.setdefault(vm_of(agent, config), []).append(agent)
    results = []
    for vm, vm_agents in by_vm.items():
        results += _install_in_vm(vm, vm_agents, backend, reporter, upgrade=upgrade)
    record_versions(results)
    return results


def _install_in_vm(
    vm: str, agents: Sequence[AgentSpec], backend: VmBackend, reporter: Reporter, *, upgrade: bool
) -> list[AgentResult]:
    kinds = [kind_of(a.type) for a in agents]
    reporter.info(f"[{vm}] checking installed agents")
    installed = check_installed(backend, vm, kinds)
    results = []
    for agent, kind in zip(agents, kinds, strict=True):
        have = installed.packages.get(kind.package)
        if have is not None and not upgrade and agent.version in (None, have):
            reporter.info(f"[{vm}] {agent.name}: {kind.title} {have} already installed")
            results.append(AgentResult(agent.name, vm, have, "present"))
            continue
        if kind.installer == "npm" and not _node_ok(installed.node, kind.min_node):
            node_title = f"Node.js {NODE_VERSION}"
            _step(
                backend,
                vm,
                reporter,
                title=node_title,
                script=scripts.INSTALL_NODE,
                arg=NODE_VERSION,
            )
            installed = check_installed(backend, vm, kinds)
        spec = _package_spec(kind, agent.version)
        _step(
            backend, vm, reporter, title=f"{agent.name}: {spec}", script=_script_for(kind), arg=spec
        )
        now = check_installed(backend, vm, [kind]).packages.get(kind.package)
        if now is None:
            raise InstallError(
                f"[{vm}] {agent.name}: the installer ran but {kind.binary} is missing"
            )
        reporter.info(f"[{vm}] {agent.name}: {kind.title} {now} installed")
        results.append(AgentResult(agent.name, vm, now, "upgraded" if have else "installed"))
    return results


def _node_ok(version: str | None, minimum: int) -> bool:
    if version is None:
        return False
    try:
        return int(version.split(".")[0]) >= minimum
    except ValueError:
        return False


def _package_spec(kind: AgentKind, version: str | None) -> str:
    if kind.installer == "npm":
        return f"{kind.package}@{version or 'latest'}"
    return f"{kind.package}=={version}" if version else kind.package


def _script_for(kind: AgentKind) -> str:
    return scripts.INSTALL_NPM if kind.installer == "npm" else scripts.INSTALL_PIPX


def _step(
    backend: VmBackend, vm: str, reporter: Reporter, *, title: str, script: str, arg: str
) -> None:
    reporter.info(f"[{vm}] installing {title} ...")
    result = backend.exec(vm, ["bash", "-c", script, "agsekit-install", arg])
    if result.returncode != 0:
        raise InstallError(
            f"[{vm}] installing {title} failed (exit {result.returncode})",
            hint="last lines of the installer's output:\n    "
            + "\n    ".join(_tail(result.stdout + "\n" + result.stderr, lines=12).splitlines()),
        )


def _tail(text: str, lines: int = 3) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:]) or "no output"


def state_file(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or os.path.join(env.get("HOME", "~"), ".local", "state")
    return Path(base).expanduser() / "agsekit" / "agents.json"


def record_versions(results: Sequence[AgentResult]) -> None:
    """Remember which version is installed where (the `version` a run without a pin got)."""
    path = state_file()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for result in results:
        entry = data.setdefault(result.vm, {}).setdefault(result.agent, {})
        if entry.get("version") != result.version or result.action != "present":
            entry.update({"version": result.version, "installed": stamp})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
