"""install-agents: put each configured agent (and Node.js where it needs it) into its VM.

A run first asks the VM, in one call, what is installed; only what is missing, or pinned
to another version, or asked to be upgraded, is installed. So a run where everything is in
place takes one round trip per VM.

Agents with `isolation: user` (the default) get a user of their own and an install only
root can change (see identity.py). That needs the VM's user to have passwordless sudo (it
has, in Multipass' Ubuntu images); without it they are installed the old way, as the VM's
user, with a warning, and the record says so (config-check and run warn from it).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from agsekit.agents import identity, scripts
from agsekit.agents.catalogue import NODE_VERSION, AgentKind, kind_of
from agsekit.agents.secrets import AgentEnvironment
from agsekit.config.model import AgentSpec, Config
from agsekit.core import records
from agsekit.core.errors import AgsekitError, UsageError
from agsekit.core.reporting import Reporter
from agsekit.network import proxies
from agsekit.vm.backend import VmBackend


class InstallError(AgsekitError):
    pass


@dataclass(frozen=True)
class AgentState:
    version: str | None  # in its own prefix
    user: bool  # its own user exists
    old_version: str | None  # installed the old way, as the VM's user


@dataclass(frozen=True)
class Installed:
    sudo: bool
    node: str | None
    agents: dict[str, AgentState]  # by agent name
    closed: tuple[str, ...] = ()  # folders above the mounts that agent users cannot pass


@dataclass(frozen=True)
class AgentResult:
    agent: str
    vm: str
    version: str | None
    action: str  # "present", "installed", "upgraded"
    isolated: bool = True


@dataclass
class _VmPlan:
    vm: str
    agents: list[AgentSpec]
    folders: list[str] = field(default_factory=list)


def agents_to_install(
    config: Config, names: Sequence[str], all_agents: bool, vm: str | None = None
) -> list[AgentSpec]:
    """The agents named (default: all), only those that live in `vm` when it is given."""
    if all_agents or not names:
        if not config.agents:
            raise UsageError(
                f"no agents in {config.path}",
                hint="add one under 'agents:' (see `agsekit config-example`)",
            )
        chosen = list(config.agents.values())
    else:
        unknown = [n for n in names if n not in config.agents]
        if unknown:
            known = ", ".join(config.agents) or "none"
            raise UsageError(f"no agent named {unknown[0]!r} in the config (known: {known})")
        chosen = [config.agents[n] for n in names]
    return chosen if vm is None else _in_vm(config, chosen, vm)


def _in_vm(config: Config, chosen: list[AgentSpec], vm: str) -> list[AgentSpec]:
    if vm not in config.vms:
        known = ", ".join(config.vms) or "none"
        raise UsageError(f"no VM named {vm!r} in the config (known: {known})")
    inside = [agent for agent in chosen if vm_of(agent, config) == vm]
    if not inside:
        raise UsageError(
            f"none of these agents runs in the VM {vm}",
            hint="an agent's VM is its `vm:` key, else the VM of the mounts",
        )
    return inside


def vm_of(agent: AgentSpec, config: Config) -> str:
    if agent.vm is not None:
        return agent.vm
    mount_vms = {m.vm for m in config.mounts}
    if len(mount_vms) == 1:
        return next(iter(mount_vms))
    if config.vms:
        return next(iter(config.vms))
    raise UsageError("no VM configured", hint="add one under 'vms:' in the config")


def folders_above_mounts(config: Config, vm: str) -> list[str]:
    """Every folder an agent user passes through to reach the VM's mount targets."""
    found: list[str] = []
    for mount in config.mounts:
        if mount.vm != vm:
            continue
        parent = posixpath.dirname(mount.target.rstrip("/"))
        while parent not in ("/", "") and parent not in found:
            found.append(parent)
            parent = posixpath.dirname(parent)
    return sorted(found)


def check_installed(
    backend: VmBackend, vm: str, agents: Sequence[AgentSpec], folders: Sequence[str] = ()
) -> Installed:
    items: list[str] = []
    for agent in agents:
        kind = kind_of(agent.type)
        user = identity.guest_user(agent) if identity.isolated(agent) else ""
        items += [kind.installer, kind.package, identity.install_dir(agent), user]
    argv = ["bash", "-c", scripts.CHECK, "agsekit-check", *items, "--", *folders]
    result = backend.exec(vm, argv)
    if result.returncode != 0:
        raise InstallError(f"could not look at what is installed in {vm}: {tail(result.stderr)}")
    return _parse_check(result.stdout, agents)


def _parse_check(text: str, agents: Sequence[AgentSpec]) -> Installed:
    sudo, node = False, None
    states: dict[str, AgentState] = {}
    closed: list[str] = []
    for line in text.splitlines():
        parts = line.split()
        if parts[:1] == ["sudo"] and len(parts) == 2:
            sudo = parts[1] == "yes"
        elif parts[:1] == ["node"] and len(parts) == 2:
            node = None if parts[1] == "-" else parts[1]
        elif parts[:1] == ["agent"] and len(parts) == 5 and parts[1].isdigit():
            index = int(parts[1])
            if index < len(agents):
                states[agents[index].name] = AgentState(
                    version=None if parts[2] == "-" else parts[2],
                    user=parts[3] == "yes",
                    old_version=None if parts[4] == "-" else parts[4],
                )
        elif line.startswith("closed "):
            closed.append(line[len("closed ") :])
    return Installed(sudo, node, states, tuple(closed))


def install_agents(
    config: Config,
    agents: Sequence[AgentSpec],
    backend: VmBackend,
    reporter: Reporter,
    *,
    upgrade: bool = False,
) -> list[AgentResult]:
    plans: dict[str, _VmPlan] = {}
    for agent in agents:
        vm = vm_of(agent, config)
        plans.setdefault(vm, _VmPlan(vm, [], folders_above_mounts(config, vm))).agents.append(agent)
    results = []
    for plan in plans.values():
        results += _install_in_vm(plan, config, backend, reporter, upgrade=upgrade)
    record_versions(results)
    return results


def install_environment(config: Config, vm: str, agent: AgentSpec | None) -> AgentEnvironment:
    """What an install step runs with: the HTTP proxy of the agent, else of its VM."""
    levels = [] if agent is None else [(f"agent {agent.name}", agent.proxies)]
    if vm in config.vms:
        levels.append((f"VM {vm}", config.vms[vm].proxies))
    choice = proxies.choose(levels)
    if choice.kind != "http":
        return AgentEnvironment((), frozenset())
    return AgentEnvironment(tuple(proxies.http_environment(choice.url)), choice.secrets)


def _install_in_vm(
    plan: _VmPlan, config: Config, backend: VmBackend, reporter: Reporter, *, upgrade: bool
) -> list[AgentResult]:
    vm = plan.vm
    reporter.info(f"[{vm}] checking installed agents")
    installed = check_installed(backend, vm, plan.agents, plan.folders)
    own = [a for a in plan.agents if identity.isolated(a)]
    if own and not installed.sudo:
        names = ", ".join(a.name for a in own)
        reporter.warning(
            f"[{vm}] the VM's user has no passwordless sudo, so {names} cannot get users of "
            f"their own: installing as the VM's user, where the agents in {vm} can read each "
            "other's keys"
        )
        own = []
    _prepare(backend, vm, reporter, own, installed)
    results = []
    for agent in plan.agents:
        place = Place(backend, vm, reporter, install_environment(config, vm, agent))
        result, node = _install_one(
            place, agent, isolated=agent in own, installed=installed, upgrade=upgrade
        )
        installed = replace(installed, node=node)
        results.append(result)
    return results


def _prepare(
    backend: VmBackend,
    vm: str,
    reporter: Reporter,
    agents: Sequence[AgentSpec],
    installed: Installed,
) -> None:
    """Create the agents' users and open the folders above the mounts for them."""
    missing = [
        identity.guest_user(a)
        for a in agents
        if not installed.agents.get(a.name, AgentState(None, False, None)).user
    ]
    closed = list(installed.closed) if agents else []
    if not missing and not closed:
        return
    if missing:
        reporter.info(f"[{vm}] creating the agents' users: {', '.join(missing)}")
    if closed:
        reporter.info(
            f"[{vm}] letting agent users pass through (not list) {', '.join(closed)} "
            "to reach the mounted folders (chmod o+x)"
        )
    argv = ["bash", "-c", scripts.PREPARE, "agsekit-prepare", *missing, "--", *closed]
    result = backend.exec(vm, argv)
    if result.returncode != 0:
        raise InstallError(
            f"[{vm}] could not create the agents' users (exit {result.returncode})",
            hint="last lines of its output:\n    "
            + "\n    ".join(tail(result.stdout + "\n" + result.stderr, lines=8).splitlines()),
        )


@dataclass(frozen=True)
class Place:
    backend: VmBackend
    vm: str
    reporter: Reporter
    env: AgentEnvironment


def _install_one(
    place: Place, agent: AgentSpec, *, isolated: bool, installed: Installed, upgrade: bool
) -> tuple[AgentResult, str | None]:
    """Install one agent unless it is in place; returns the result and Node.js' version."""
    backend, vm, reporter = place.backend, place.vm, place.reporter
    kind = kind_of(agent.type)
    node = installed.node
    state = installed.agents.get(agent.name, AgentState(None, False, None))
    have = state.version if isolated else state.old_version
    if have is not None and not upgrade and agent.version in (None, have):
        reporter.info(f"[{vm}] {agent.name}: {kind.title} {have} already installed")
        return AgentResult(agent.name, vm, have, "present", isolated), node
    if kind.installer == "npm" and not _node_ok(node, kind.min_node):
        title = f"Node.js {NODE_VERSION}"
        run_step(place, title=title, script=scripts.INSTALL_NODE, args=[NODE_VERSION])
        node = NODE_VERSION
    spec = _package_spec(kind, agent.version)
    script, args = _installer(kind, agent, isolated, spec)
    run_step(place, title=f"{agent.name}: {spec}", script=script, args=args)
    now = _version_now(backend, vm, agent, isolated)
    if now is None:
        raise InstallError(f"[{vm}] {agent.name}: the installer ran but {kind.binary} is missing")
    where = identity.install_dir(agent) if isolated else "the VM user's ~/.local"
    if have is None:
        reporter.info(f"[{vm}] {agent.name}: {kind.title} {now} installed in {where}")
    elif have == now:
        why = "the pinned version" if agent.version else "no newer version"
        reporter.info(f"[{vm}] {agent.name}: {kind.title} {now} reinstalled ({why})")
    else:
        reporter.info(f"[{vm}] {agent.name}: {kind.title} {have} -> {now} in {where}")
    if isolated and state.old_version is not None:
        reporter.info(
            f"[{vm}] {agent.name}: the old install in ~/.local is no longer used (it may be "
            "removed)"
        )
    return AgentResult(agent.name, vm, now, "upgraded" if have else "installed", isolated), node


def _version_now(backend: VmBackend, vm: str, agent: AgentSpec, isolated: bool) -> str | None:
    state = check_installed(backend, vm, [agent]).agents.get(agent.name)
    if state is None:
        return None
    return state.version if isolated else state.old_version


def _installer(
    kind: AgentKind, agent: AgentSpec, isolated: bool, spec: str
) -> tuple[str, list[str]]:
    npm = kind.installer == "npm"
    if not isolated:
        return (scripts.INSTALL_NPM_SHARED if npm else scripts.INSTALL_PIPX_SHARED), [spec]
    script = scripts.INSTALL_NPM if npm else scripts.INSTALL_PIPX
    return script, [identity.install_dir(agent), spec]


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


def run_step(place: Place, *, title: str, script: str, args: list[str]) -> None:
    place.reporter.info(f"[{place.vm}] installing {title} ...")
    argv, stdin = script_command(script, args, place.env)
    result = place.backend.exec(place.vm, argv, input=stdin)
    if result.returncode != 0:
        output = place.env.mask(result.stdout + "\n" + result.stderr)
        raise InstallError(
            f"[{place.vm}] installing {title} failed (exit {result.returncode})",
            hint="last lines of the installer's output:\n    "
            + "\n    ".join(tail(output, lines=12).splitlines()),
        )


def ensure_proxychains(config: Config, vm: str, backend: VmBackend, reporter: Reporter) -> None:
    """proxychains4 in the VM, installed from Ubuntu's packages on first need."""
    found = backend.exec(vm, ["bash", "-c", "command -v proxychains4"])
    if found.returncode == 0:
        return
    env = install_environment(config, vm, None)
    place = Place(backend, vm, reporter, env)
    run_step(place, title="proxychains4 (first use)", script=scripts.INSTALL_PROXYCHAINS, args=[])


def script_command(
    script: str, args: Sequence[str], env: AgentEnvironment
) -> tuple[list[str], str | None]:
    """The argv that runs script with args, and what goes on its stdin: the environment,
    when there is one (it never goes on a command line)."""
    if not env.values:
        return ["bash", "-c", script, "agsekit-install", *args], None
    text = scripts.READ_ENVIRONMENT + "\n" + script
    return ["bash", "-c", text, "agsekit-install", *args], env.handover().decode()


def tail(text: str, lines: int = 3) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:]) or "no output"


def state_file(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or os.path.join(env.get("HOME", "~"), ".local", "state")
    return Path(base).expanduser() / "agsekit" / "agents.json"


def read_records(path: Path | None = None) -> records.Records:
    """What install-agents recorded: VM -> agent -> version, installed, isolated."""
    return records.read(path or state_file())


def record_versions(results: Sequence[AgentResult]) -> None:
    """Remember which version is installed where (the `version` a run without a pin got),
    and whether it has a user of its own."""
    records.record(
        state_file(),
        (
            records.Installed(
                r.vm, r.agent, r.version, r.action != "present", {"isolated": r.isolated}
            )
            for r in results
        ),
    )
