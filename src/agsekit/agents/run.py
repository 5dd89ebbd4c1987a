"""`agsekit run AGENT`: the agent runs in the VM on the current project folder, with a
snapshot before it starts (no snapshot, no agent, unless --no-backups), snapshots at the
mount's interval while it runs, and a last one when it exits, however it exits.

The agent is started by one `multipass exec` of the launcher (launcher.py), which gets the
agent's environment on its standard input."""

from __future__ import annotations

import os
import posixpath
import secrets
import shlex
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType

from agsekit.agents import identity, isolation, launcher
from agsekit.agents.allowed import check_allowed, check_reachable
from agsekit.agents.arguments import agent_arguments
from agsekit.agents.catalogue import AgentKind, kind_of
from agsekit.agents.endpoint import EndpointSetup, endpoint_setup
from agsekit.agents.install import ensure_proxychains, read_records
from agsekit.agents.secrets import AgentEnvironment, resolve_environment
from agsekit.agents.sessions import Session, new_session_id, registered
from agsekit.config.model import (
    AGENT_TYPES,
    AgentSpec,
    AlarmPolicy,
    Config,
    MountSpec,
    Proxies,
)
from agsekit.core.display import MASK
from agsekit.core.errors import AgsekitError, UsageError
from agsekit.core.reporting import RecordingReporter, Reporter
from agsekit.network import proxies
from agsekit.network.proxies import ProxyChoice
from agsekit.snapshots.engine.snapshot import SnapshotOutcome, SnapshotRequest, take_snapshot
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.keep.alarm import after_snapshot
from agsekit.tools.ptyrelay import Handover
from agsekit.tools.runner import CHILDREN
from agsekit.vm.backend import RUNNING, VmBackend, VmStatus
from agsekit.vm.lifecycle import start_vm
from agsekit.vm.mounts import ensure_mounts

Ask = Callable[[str], bool]
# Until run starts the egress proxy for the session (issue 13), say so at every run.
NOT_ENFORCED = (
    "network mode allowlist is not enforced yet: {agent} can reach any host (the egress "
    "proxy and its firewall are not wired into run; see the README's Egress allowlist)"
)


class UnprotectedError(AgsekitError):
    """The snapshot before the session failed: the agent is not started unprotected."""


@dataclass(frozen=True)
class RunRequest:
    agent: str
    args: tuple[str, ...]
    workdir: Path
    vm: str | None = None
    backups: bool = True
    auto_mount: bool = False
    debug: bool = False
    share_mount: bool = False
    proxies: Proxies = field(default_factory=Proxies)  # --http-proxy, --proxychains
    skip_default_args: bool = False


@dataclass(frozen=True)
class RunPlan:
    agent: AgentSpec
    kind: AgentKind
    mount: MountSpec
    vm: str
    guest_workdir: str


def find_agent(config: Config, name: str) -> AgentSpec:
    """A configured agent, or an agent type used by its own name with no configuration."""
    if name in config.agents:
        return config.agents[name]
    if name in AGENT_TYPES:
        return AgentSpec(name, name, None, None, (), ())
    known = ", ".join(sorted(set(config.agents) | set(AGENT_TYPES)))
    raise UsageError(f"no agent named {name!r}", hint=f"known agents: {known}")


def plan_run(config: Config, request: RunRequest) -> RunPlan:
    agent = find_agent(config, request.agent)
    workdir = Path(os.path.abspath(request.workdir))
    mount = config.mount_for(workdir)
    if mount is None:
        raise UsageError(
            f"{workdir} is not inside any mounted folder of the config, so the VM cannot see it",
            hint=f"add it with `agsekit addmount {shlex.quote(str(workdir))} --mount-now`, "
            "or under 'mounts:' in the config",
        )
    vm = request.vm or agent.vm or mount.vm
    if vm != mount.vm:
        raise UsageError(
            f"{mount.source} is mounted into the VM {mount.vm}, not {vm}",
            hint=f"run in {mount.vm}, or set `vm: {vm}` on that mount in the config",
        )
    relative = os.path.relpath(os.path.realpath(workdir), os.path.realpath(mount.source))
    guest = mount.target if relative == "." else posixpath.join(mount.target, relative)
    return RunPlan(agent, kind_of(agent.type), mount, vm, guest)


def run_agent(
    config: Config,
    request: RunRequest,
    backend: VmBackend,
    reporter: Reporter,
    *,
    ask: Ask,
    environ: Mapping[str, str],
) -> int:
    """Run the agent and return its exit status."""
    plan = plan_run(config, request)
    endpoint = (
        endpoint_setup(plan.agent.type, plan.agent.model) if plan.agent.model else EndpointSetup(())
    )
    env = resolve_environment(plan.agent.name, [*endpoint.env, *plan.agent.env], environ)
    proxy = proxy_choice(config, plan, request).expanded(environ)
    check_allowed(config, plan.agent.name, plan.mount, plan.vm)
    _check_isolation(config, plan, reporter, share_mount=request.share_mount)
    if config.network_for(plan.agent, plan.vm).enforced:
        reporter.warning(NOT_ENFORCED.format(agent=plan.agent.name))
    status = _ready_vm(config, plan, backend, reporter, ask=ask, auto_mount=request.auto_mount)
    check_reachable(config, plan.agent.name, plan.vm, status.mounts)
    env = _with_proxy(env, proxy, plan, status, reporter)
    if proxy.kind == "proxychains":
        ensure_proxychains(config, plan.vm, backend, reporter)
    session = Session(
        id=new_session_id(),
        agent=plan.agent.name,
        vm=plan.vm,
        folder=str(plan.mount.source),
        started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        pid=os.getpid(),
    )
    snapshots = (
        SessionSnapshots(plan, session.id, reporter, config.alarm) if request.backups else None
    )
    stops_before = len(STOPPED_BY)
    with registered(session):
        if snapshots is not None:
            snapshots.before()
        with _interrupts_go_to_the_agent():
            try:
                with snapshots.running() if snapshots is not None else _nothing():
                    code = _launch(
                        plan,
                        request,
                        env=env,
                        endpoint=endpoint,
                        backend=backend,
                        reporter=reporter,
                    )
            finally:
                if snapshots is not None:
                    snapshots.after()
    if len(STOPPED_BY) > stops_before:
        reporter.info(f"stopped by signal {STOPPED_BY[-1]}; the last snapshot was taken")
        return 128 + STOPPED_BY[-1]
    return code


def proxy_choice(config: Config, plan: RunPlan, request: RunRequest) -> ProxyChoice:
    """run's options, else the agent's keys, else its VM's."""
    levels = [("run", request.proxies), (f"agent {plan.agent.name}", plan.agent.proxies)]
    if plan.vm in config.vms:
        levels.append((f"VM {plan.vm}", config.vms[plan.vm].proxies))
    return proxies.choose(levels)


def _with_proxy(
    env: AgentEnvironment, proxy: ProxyChoice, plan: RunPlan, status: VmStatus, reporter: Reporter
) -> AgentEnvironment:
    """The agent's environment with the proxy's variables first (its own `env:` wins)."""
    if proxy.kind is None:
        return env
    how = "HTTP(S)_PROXY" if proxy.kind == "http" else "proxychains4"
    reporter.info(f"proxy for {plan.agent.name}: {proxy.shown} through {how} (from {proxy.level})")
    node = plan.kind.installer == "npm"
    values = proxies.agent_environment(proxy, vm_addresses=status.ipv4, node=node)
    return AgentEnvironment((*values, *env.values), env.secrets | proxy.secrets)


def _check_isolation(
    config: Config, plan: RunPlan, reporter: Reporter, *, share_mount: bool
) -> None:
    """Refuse an agent with keys on folders another agent with keys works on, unless told;
    warn when the agents of the VM can read each other's keys."""
    others = isolation.sharing_with(config, plan.agent, plan.vm)
    if others and not share_mount:
        raise UsageError(
            isolation.sharing_message(plan.agent.name, plan.vm, others),
            hint=isolation.SHARING_HINT,
        )
    exposed = isolation.exposure(config, plan.vm, read_records())
    if exposed is not None:
        reporter.warning(f"{exposed.message}\n  hint: {exposed.hint}")


def _ready_vm(
    config: Config,
    plan: RunPlan,
    backend: VmBackend,
    reporter: Reporter,
    *,
    ask: Ask,
    auto_mount: bool,
) -> VmStatus:
    status = backend.status(plan.vm)
    if status is None or status.deleted:
        raise AgsekitError(
            f"the VM {plan.vm} does not exist yet", hint="create it with `agsekit up`"
        )
    if status.state != RUNNING:
        start_vm(config, plan.vm, backend, reporter)  # also re-mounts its folders
        status = backend.status(plan.vm) or status
    target = plan.mount.target.rstrip("/")
    if any(m.target.rstrip("/") == target for m in status.mounts):
        return status
    question = f"{plan.mount.source} is not mounted in {plan.vm}; mount it now?"
    if not auto_mount and not ask(question):
        raise UsageError(
            f"{plan.mount.source} is not mounted in {plan.vm}",
            hint="mount it with `agsekit mount`, or pass --auto-mount",
        )
    ensure_mounts(config, plan.vm, backend, reporter, only=[plan.mount])
    return status


def _launch(
    plan: RunPlan,
    request: RunRequest,
    *,
    env: AgentEnvironment,
    endpoint: EndpointSetup,
    backend: VmBackend,
    reporter: Reporter,
) -> int:
    """One exec: the launcher reads the environment on its stdin, then becomes the agent."""
    nonce = secrets.token_hex(16)
    user = identity.guest_user(plan.agent) if identity.isolated(plan.agent) else ""
    argv = launcher.launch_command(
        nonce,
        user,
        identity.binary_path(plan.agent, plan.kind),
        plan.kind.binary,
        [*endpoint.args, *agent_arguments(_defaults(plan, request, endpoint), request.args)],
    )
    if request.debug:
        # names only: a literal value in the config is as secret as one from the host
        names = ", ".join(f"{k}={MASK}" for k, _ in env.values) or "none"
        reporter.info(f"debug: environment for {plan.agent.name}: {names}")
        who = user or "the VM's user"
        reporter.info(
            f"debug: running {plan.kind.binary} as {who} in {plan.vm}:{plan.guest_workdir}"
        )
    handover = Handover(launcher.marker(nonce).encode(), env.handover())
    return backend.exec_attached(plan.vm, argv, workdir=plan.guest_workdir, handover=handover)


def _defaults(plan: RunPlan, request: RunRequest, endpoint: EndpointSetup) -> list[str]:
    own = () if request.skip_default_args else plan.agent.default_args
    return [*endpoint.default_args, *own]


@contextmanager
def _interrupts_go_to_the_agent() -> Iterator[None]:
    """Ctrl+C reaches the agent through the terminal; agsekit itself keeps running so that
    it can take the last snapshot once the agent has exited. SIGTERM and SIGHUP (a closed
    terminal) stop the agent instead; the session then ends as usual, with its last
    snapshot, and agsekit exits 143 or 129."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        STOPPED_BY.append(signum)
        threading.Thread(target=CHILDREN.terminate_all, daemon=True).start()

    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, lambda signum, frame: None),
        signal.SIGTERM: signal.signal(signal.SIGTERM, stop),
        signal.SIGHUP: signal.signal(signal.SIGHUP, stop),
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


STOPPED_BY: list[int] = []  # the stop signals that ended agent sessions in this process


@contextmanager
def _nothing() -> Iterator[None]:
    yield


class SessionSnapshots:
    """Snapshots around and during one agent session, each followed by the mass-deletion
    alarm and the mount's retention. While the agent owns the terminal, the periodic ones
    report only to the store's log (and the desktop, if the alarm goes off)."""

    def __init__(
        self, plan: RunPlan, session_id: str, reporter: Reporter, alarm: AlarmPolicy
    ) -> None:
        self.plan = plan
        self.session_id = session_id
        self.reporter = reporter
        self.alarm = alarm
        self.store = Store(plan.mount.backup)
        self._stop = threading.Event()
        self.start: str | None = None  # the state at the session's start: the alarm's reference

    def _take(
        self, moment: str, reporter: Reporter, *, required: bool = False
    ) -> SnapshotOutcome | None:
        """Take a snapshot; a failure is a warning, or an error when required (before)."""
        label = f"{moment} {self.plan.agent.name} session {self.session_id}"
        mount = self.plan.mount
        request = SnapshotRequest(
            mount.source,
            mount.backup,
            config_excludes=mount.exclude,
            ignore_files=mount.ignore_files,
            reserve=mount.reserve,
            label=label,
        )

        def care(outcome: SnapshotOutcome) -> None:
            after_snapshot(
                self.store,
                outcome,
                reporter,
                alarm=self.alarm,
                retention=mount.retention,
                session_start=self.start,
            )

        try:
            outcome = take_snapshot(request, reporter, refuse_empty=False, after=care)
        except AgsekitError as exc:
            self.store.log(f"session {self.session_id}: snapshot {moment} failed: {exc.message}")
            if required:
                raise UnprotectedError(
                    f"the snapshot before the session failed, so {self.plan.agent.name} was "
                    f"not started: {exc.message}",
                    hint=f"fix that (snapshots go to {self.plan.mount.backup}), or run with "
                    "--no-backups to start the agent without snapshots",
                ) from exc
            reporter.warning(f"snapshot {moment} the session failed: {exc.message}")
            return None
        if self.start is None:
            self.start = outcome.name  # a refused snapshot: the latest holds the start
        return None if outcome.status == "refused" else outcome

    def before(self) -> None:
        """Raises UnprotectedError when the snapshot cannot be taken."""
        outcome = self._take("before", self.reporter, required=True)
        if outcome is not None:
            what = "taken" if outcome.status == "created" else "unchanged, latest is"
            self.reporter.info(f"snapshot before the session: {what} {outcome.name}")

    def after(self) -> None:
        outcome = self._take("after", self.reporter)
        if outcome is None:
            return
        if outcome.status == "created":
            self.reporter.info(
                f"snapshot after the session: {outcome.name} ({outcome.added} added, "
                f"{outcome.modified} modified, {outcome.deleted} deleted)"
            )
        else:
            self.reporter.info(f"no changes since snapshot {outcome.name}")

    @contextmanager
    def running(self) -> Iterator[None]:
        interval = self.plan.mount.interval_minutes * 60
        quiet = RecordingReporter()
        if self.store.service_watching():
            self.reporter.info(
                "the agsekit service watches this folder: it takes the snapshots during the "
                "session (this session takes none of its own while the service runs)"
            )

        def loop() -> None:
            while not self._stop.wait(interval):
                if not self.store.service_watching():  # one writer: the service, if it runs
                    self._take("during", quiet)

        thread = threading.Thread(target=loop, name="session-snapshots", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join(timeout=120)
