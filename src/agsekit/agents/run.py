"""`agsekit run AGENT`: the agent runs in the VM on the current project folder, with a
snapshot before it starts, snapshots at the mount's interval while it runs, and a last one
when it exits, however it exits."""

from __future__ import annotations

import os
import posixpath
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from agsekit.agents import launcher
from agsekit.agents.catalogue import AgentKind, kind_of
from agsekit.agents.secrets import MASK, AgentEnvironment, resolve_environment
from agsekit.agents.sessions import Session, new_session_id, registered
from agsekit.config.model import AGENT_TYPES, AgentSpec, AlarmPolicy, Config, MountSpec
from agsekit.core.errors import AgsekitError, UsageError
from agsekit.core.reporting import RecordingReporter, Reporter
from agsekit.snapshots.engine.snapshot import SnapshotOutcome, SnapshotRequest, take_snapshot
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.keep.alarm import after_snapshot
from agsekit.vm.backend import RUNNING, VmBackend
from agsekit.vm.lifecycle import start_vm
from agsekit.vm.mounts import ensure_mounts

Ask = Callable[[str], bool]


@dataclass(frozen=True)
class RunRequest:
    agent: str
    args: tuple[str, ...]
    workdir: Path
    vm: str | None = None
    backups: bool = True
    auto_mount: bool = False
    debug: bool = False


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
            hint="add it under 'mounts:' in the config, e.g.\n"
            f"      - source: {workdir}\n"
            "    then run `agsekit mount` (or `agsekit up`)",
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
    env = resolve_environment(plan.agent.name, plan.agent.env, environ)
    _ready_vm(config, plan, backend, reporter, ask=ask, auto_mount=request.auto_mount)
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
    with registered(session):
        if snapshots is not None:
            snapshots.before()
        try:
            with snapshots.running() if snapshots is not None else _nothing():
                code = _launch(
                    plan,
                    request,
                    env=env,
                    session_id=session.id,
                    backend=backend,
                    reporter=reporter,
                )
        finally:
            if snapshots is not None:
                snapshots.after()
    return code


def _ready_vm(
    config: Config,
    plan: RunPlan,
    backend: VmBackend,
    reporter: Reporter,
    *,
    ask: Ask,
    auto_mount: bool,
) -> None:
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
        return
    question = f"{plan.mount.source} is not mounted in {plan.vm}; mount it now?"
    if not auto_mount and not ask(question):
        raise UsageError(
            f"{plan.mount.source} is not mounted in {plan.vm}",
            hint="mount it with `agsekit mount`, or pass --auto-mount",
        )
    ensure_mounts(config, plan.vm, backend, reporter, only=[plan.mount])


def _launch(
    plan: RunPlan,
    request: RunRequest,
    *,
    env: AgentEnvironment,
    session_id: str,
    backend: VmBackend,
    reporter: Reporter,
) -> int:
    env_path = launcher.env_file(session_id) if env.values else ""
    argv = launcher.launch_command(
        env_path, plan.kind.binary, [*plan.agent.default_args, *request.args]
    )
    if request.debug:
        # names only: a literal value in the config is as secret as one from the host
        names = ", ".join(f"{k}={MASK}" for k, _ in env.values) or "none"
        reporter.info(f"debug: environment for {plan.agent.name}: {names}")
        reporter.info(f"debug: running {plan.kind.binary} in {plan.vm}:{plan.guest_workdir}")
    try:
        if env_path:
            # the values travel on stdin, never on a command line
            written = backend.exec(
                plan.vm, launcher.write_env_command(env_path), input=env.payload().decode()
            )
            if written.returncode != 0:
                raise AgsekitError(f"could not hand the environment to {plan.vm}: {written.stderr}")
        with _interrupts_go_to_the_agent():
            return backend.exec_attached(plan.vm, argv, workdir=plan.guest_workdir)
    finally:
        if env_path:  # normally already gone: the launcher deletes it before the agent starts
            backend.exec(plan.vm, ["rm", "-f", "--", env_path])


@contextmanager
def _interrupts_go_to_the_agent() -> Iterator[None]:
    """Ctrl+C reaches the agent through the terminal; agsekit itself keeps running so that
    it can take the last snapshot once the agent has exited."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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

    def _take(self, moment: str, reporter: Reporter) -> SnapshotOutcome | None:
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
            reporter.warning(f"snapshot {moment} the session failed: {exc.message}")
            self.store.log(f"session {self.session_id}: snapshot {moment} failed: {exc.message}")
            return None
        if outcome.status == "refused":
            return None
        if self.start is None:
            self.start = outcome.name
        return outcome

    def before(self) -> None:
        outcome = self._take("before", self.reporter)
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
