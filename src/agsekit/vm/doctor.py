"""`agsekit doctor`: checks that explain what is wrong and how to fix it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agsekit.agents.catalogue import kind_of
from agsekit.agents.install import vm_of
from agsekit.agents.secrets import mask
from agsekit.config.model import Config, MountSpec
from agsekit.config.sizes import format_size
from agsekit.core.errors import AgsekitError
from agsekit.network import proxies
from agsekit.network.probe import probe_proxy
from agsekit.service.manage import Installation, installation
from agsekit.service.state import MountState, ServiceStatus, read_status
from agsekit.snapshots.engine.store import Store, hardlinks_work
from agsekit.snapshots.history.check import check_store
from agsekit.vm.backend import RUNNING, VmBackend, VmStatus
from agsekit.vm.reconcile import compare_mounts

OK = "ok"
WARNING = "warning"
PROBLEM = "problem"
LOW_FREE_SPACE = 2 * 1024**3


@dataclass(frozen=True)
class Check:
    level: str  # ok, warning or problem
    message: str
    fix: str | None = None


def run_checks(config: Config, backend: VmBackend) -> list[Check]:
    checks = [_backend_check(backend)]
    checks += _confinement_checks(config, backend)
    if checks[0].level == OK:
        checks += _mount_checks(config, backend)
        checks += proxy_checks(config, backend, os.environ)
    for spec in config.mounts:
        checks += _store_checks(spec)
    if config.mounts:
        checks += service_checks(config, read_status(), installation())
    return checks


def service_checks(config: Config, found: ServiceStatus, installed: Installation) -> list[Check]:
    """Is the background service installed, running this agsekit, and watching every mount?"""
    if not installed.installed and not found.running:
        return [
            Check(
                WARNING,
                "the background service is not installed: folders are snapshotted only while "
                "`agsekit run` or a backup loop runs",
                "agsekit daemon install",
            )
        ]
    checks = []
    if installed.installed and not installed.current:
        checks.append(
            Check(
                WARNING,
                f"the service's unit starts another agsekit ({installed.command})",
                "agsekit daemon install (rewrites it for this one)",
            )
        )
    if not found.running:
        state = installed.problem or installed.state or "unknown"
        checks.append(
            Check(
                PROBLEM,
                f"the background service is installed but not running ({state})",
                "agsekit daemon start; see why with agsekit daemon logs",
            )
        )
        return checks
    if found.config_error:
        problems = "; ".join(found.config_error.get("problems", []))
        checks.append(
            Check(
                PROBLEM,
                f"the service cannot load the config ({found.config_error.get('message')}: "
                f"{problems}); it keeps running with the last one that loaded",
                "fix the config: the service reloads it by itself",
            )
        )
    watched = {m.source: m for m in found.mounts}
    for spec in config.mounts:
        checks += _service_mount_checks(str(spec.source), watched.get(str(spec.source)))
    return checks


def _service_mount_checks(source: str, state: MountState | None) -> list[Check]:
    if state is None:
        return [Check(WARNING, f"the service does not take care of {source} (yet)", None)]
    checks = []
    if state.mode == "polling":
        checks.append(Check(WARNING, f"the service polls {source}: {state.reason}", state.fix))
    elif state.mode == "watching":
        checks.append(Check(OK, f"the service watches {source} ({state.watches} folders)"))
    if state.overflows:
        checks.append(
            Check(
                WARNING,
                f"the event queue for {source} overflowed {state.overflows} time(s) (a full "
                "check followed each time)",
                "sudo sysctl fs.inotify.max_queued_events=65536",
            )
        )
    if state.last_error:
        checks.append(
            Check(PROBLEM, f"the last snapshot of {source} failed: {state.last_error}", None)
        )
    return checks


def proxy_checks(config: Config, backend: VmBackend, environ: Mapping[str, str]) -> list[Check]:
    """Each configured proxy, asked from inside its (running) VM for a tunnel to what uses
    it: the agent's API, or the npm registry for install steps."""
    wanted: list[tuple[str, proxies.ProxyChoice, str]] = []
    for name, spec in config.vms.items():
        wanted.append((name, proxies.choose([(f"VM {name}", spec.proxies)]), "registry.npmjs.org"))
    for agent in config.agents.values():
        if agent.proxies.set:
            choice = proxies.choose([(f"agent {agent.name}", agent.proxies)])
            wanted.append((vm_of(agent, config), choice, kind_of(agent.type).api_host))
    checks = []
    running: dict[str, bool] = {}
    for vm, configured, host in wanted:
        if configured.kind is None:
            continue
        if vm not in running:
            status = backend.status(vm)
            running[vm] = status is not None and status.state == RUNNING
        what = f"the proxy of {configured.level} ({configured.shown})"
        if not running[vm]:
            checks.append(Check(OK, f"{what}: not checked, {vm} is not running"))
            continue
        try:
            choice = configured.expanded(environ)
        except AgsekitError as exc:
            checks.append(Check(WARNING, f"{what}: not checked: {exc.message}", None))
            continue
        result = probe_proxy(backend, vm, choice.url, f"{host}:443")
        line = mask(result.line, choice.secrets)
        if result.ok:
            checks.append(Check(OK, f"{what} answers in {vm}: {line}"))
        else:
            checks.append(
                Check(PROBLEM, f"{what} fails in {vm}: {line}", "check the URL and the proxy")
            )
    return checks


def _backend_check(backend: VmBackend) -> Check:
    try:
        backend.ensure_available()
        version = backend.version()
    except AgsekitError as exc:
        return Check(PROBLEM, exc.message, exc.hint)
    return Check(OK, f"{backend.name} {version} is installed and its daemon answers")


def _confinement_checks(config: Config, backend: VmBackend) -> list[Check]:
    checks = []
    for spec in config.mounts:
        problem = backend.mount_source_problem(spec.source)
        if problem:
            checks.append(Check(WARNING, f"mount {spec.source}: {problem}", None))
    return checks


def _mount_checks(config: Config, backend: VmBackend) -> list[Check]:
    checks = []
    for name in config.vms:
        mounts = [m for m in config.mounts if m.vm == name]
        status = backend.status(name)
        if status is None or status.deleted:
            checks.append(
                Check(WARNING, f"VM {name} does not exist", f"run `agsekit create-vm {name}`")
            )
            continue
        if status.state != RUNNING:
            checks.append(Check(OK, f"VM {name} is {status.state.lower()}; mounts not checked"))
            continue
        checks += _active_mount_checks(name, mounts, status, backend)
    return checks


def _active_mount_checks(
    name: str, mounts: list[MountSpec], status: VmStatus, backend: VmBackend
) -> list[Check]:
    comparison = compare_mounts(mounts, status.mounts)
    checks = [
        Check(
            PROBLEM,
            f"{spec.source} is configured but not mounted in {name}",
            "run `agsekit mount --all`",
        )
        for spec in comparison.missing
    ]
    for spec in comparison.active:
        if _looks_empty_inside(spec, name, backend):
            checks.append(
                Check(
                    PROBLEM,
                    f"{spec.source} has files but {name}:{spec.target} looks empty",
                    f"remount it: `agsekit umount {spec.source}` then `agsekit mount "
                    f"{spec.source}`",
                )
            )
        else:
            checks.append(Check(OK, f"{spec.source} is mounted at {name}:{spec.target}"))
    return checks


def _looks_empty_inside(spec: MountSpec, name: str, backend: VmBackend) -> bool:
    try:
        host_has_files = any(os.scandir(spec.source))
    except OSError:
        return False
    if not host_has_files:
        return False
    result = backend.exec(name, ["ls", "-A", spec.target])
    return result.returncode != 0 or not result.stdout.strip()


def _store_checks(spec: MountSpec) -> list[Check]:
    store = Store(spec.backup)
    checks = []
    partial = store.partial_names()
    if partial:
        checks.append(
            Check(
                WARNING,
                f"{spec.backup} holds {len(partial)} interrupted snapshot(s): "
                + ", ".join(partial),
                "the next snapshot removes them; or run "
                f"`agsekit backup-once --source-dir {spec.source} --dest-dir {spec.backup}`",
            )
        )
    folder = _existing_ancestor(spec.backup)
    free = shutil.disk_usage(folder).free
    level = WARNING if free < LOW_FREE_SPACE else OK
    checks.append(
        Check(
            level,
            f"{format_size(free)} free for snapshots in {spec.backup}",
            "free some space or move `backup` of this mount" if level == WARNING else None,
        )
    )
    checks.append(_hardlink_check(spec.backup, folder))
    if store.exists():
        checks.append(_store_integrity_check(store))
    return checks


def _store_integrity_check(store: Store) -> Check:
    """The fast form of `agsekit backup-check`: every snapshot's metadata against its
    manifest."""
    try:
        results = check_store(store)
    except (AgsekitError, OSError) as exc:
        text = exc.message if isinstance(exc, AgsekitError) else str(exc)
        return Check(PROBLEM, f"the snapshots in {store.dest} cannot be checked: {text}")
    bad = [r.name for r in results if not r.ok]
    if bad:
        return Check(
            PROBLEM,
            f"{len(bad)} of {len(results)} snapshot(s) in {store.dest} differ from what was "
            f"recorded: {', '.join(bad[:5])}" + (" ..." if len(bad) > 5 else ""),
            f"see the details with `agsekit backup-check --dest-dir {store.dest}`",
        )
    return Check(OK, f"the {len(results)} snapshot(s) in {store.dest} are as recorded")


def _hardlink_check(backup: Path, folder: Path) -> Check:
    try:
        works = hardlinks_work(folder)
    except OSError as exc:
        return Check(WARNING, f"cannot test hard links in {folder}: {exc.strerror}", None)
    if works:
        return Check(OK, f"hard links work on the filesystem of {backup}")
    return Check(
        PROBLEM,
        f"the filesystem of {backup} does not support hard links: every snapshot would be a "
        "full copy",
        "put `backup` of this mount on a Linux or APFS filesystem",
    )


def _existing_ancestor(path: Path) -> Path:
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current
