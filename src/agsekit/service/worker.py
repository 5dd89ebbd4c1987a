"""One mount under the service: a reader thread turns inotify events into changes, a
scheduler thread runs the checks when timers.due() says so.

Every check is the engine's full check (the fingerprint, then the walk when it differs),
taken with the loops' run_once, so a failure is reported, logged and retried, never a
silent stop. Failures, an emptied source and a full store also go to the desktop.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from agsekit.config.model import AlarmPolicy, MountSpec
from agsekit.core.display import show_path
from agsekit.core.errors import AgsekitError
from agsekit.core.paths import relative_inside
from agsekit.service import timers
from agsekit.service.state import Board, DaemonLog, LogReporter, MountState, utc_text
from agsekit.service.watch import Batch, OutOfWatches, TreeWatch, WatchBudget
from agsekit.snapshots.engine.loop import LoopJob, run_once
from agsekit.snapshots.engine.names import parse_name
from agsekit.snapshots.engine.snapshot import (
    SnapshotOutcome,
    SnapshotRequest,
    check_recorded_source,
)
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.keep.alarm import Notifier, after_snapshot
from agsekit.tools import inotify

SLICE = 30.0  # longest single wait: how soon a sleep of the machine is noticed
SLEPT = 5.0  # seconds the clocks may drift apart before it counts as a sleep
STORM = (3, 600.0)  # this many overflows within this many seconds: poll instead
SETTLE = 0.05  # let a burst of events pile up before reading them


def boottime() -> float:
    """A clock that keeps running while the machine sleeps."""
    clock = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(clock) if clock is not None else time.time()


def request_for(mount: MountSpec) -> SnapshotRequest:
    return SnapshotRequest(
        mount.source,
        mount.backup,
        config_excludes=mount.exclude,
        ignore_files=mount.ignore_files,
        reserve=mount.reserve,
    )


@dataclass(frozen=True)
class WorkerSetup:
    mount: MountSpec
    alarm: AlarmPolicy
    budget: WatchBudget
    board: Board
    log: DaemonLog
    notifier: Notifier


class MountWorker:
    def __init__(self, setup: WorkerSetup) -> None:
        self.setup = setup
        self.mount = setup.mount
        self.key = str(self.mount.source)
        self.request = request_for(self.mount)
        self.store = Store(self.mount.backup)
        self.reporter = LogReporter(setup.log, self.mount.source.name)
        self.stop = threading.Event()
        self._cond = threading.Condition()
        self._schedule = timers.Schedule(next_full=time.monotonic())  # catch up at once
        self._wake_r, self._wake_w = os.pipe()
        self._threads: list[threading.Thread] = []
        self._overflows: list[float] = []
        self._last_error: str | None = None
        self._checks = 0

    # ----- life -----------------------------------------------------------------------

    def start(self) -> None:
        self.setup.board.add(MountState(self.key, str(self.mount.backup)))
        for target, name in ((self._read_loop, "events"), (self._check_loop, "checks")):
            thread = threading.Thread(target=target, name=f"{name} {self.key}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def shutdown(self, timeout: float = 60) -> None:
        """Stop: a snapshot in progress is cancelled and its unfinished folder removed."""
        self.stop.set()
        with self._cond:
            self._cond.notify_all()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        for thread in self._threads:
            thread.join(timeout=timeout)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.setup.board.remove(self.key)

    def _say(self, text: str) -> None:
        self.setup.log.write(f"[{self.mount.source.name}] {text}")

    # ----- events ---------------------------------------------------------------------

    def _new_watch(self) -> TreeWatch:
        inside = relative_inside(
            os.path.realpath(self.mount.backup), os.path.realpath(self.mount.source)
        )
        return TreeWatch(
            os.fsencode(self.mount.source),
            self.request.rule_source(),
            os.fsencode(inside) if inside else None,
            self.setup.budget,
        )

    def _read_loop(self) -> None:
        watch = self._new_watch()
        try:
            watching = self._begin_watching(watch)
            while not self.stop.is_set():
                fds = [self._wake_r, watch.fileno()] if watching else [self._wake_r]
                ready, _, _ = select.select(fds, [], [])
                if self._wake_r in ready:
                    os.read(self._wake_r, 64)
                    if not watching and not self.stop.is_set():
                        watching = self._begin_watching(watch, retry=True)
                    continue
                time.sleep(SETTLE)
                watching = self._handle(watch, watch.read())
        except Exception as exc:  # never a silent stop: the safety net goes on
            self._polling(f"the watcher failed unexpectedly: {exc!r}", None)
        finally:
            watch.close()

    def _begin_watching(self, watch: TreeWatch, *, retry: bool = False) -> bool:
        if not inotify.available():
            self._polling("file events are not available on this system", None)
            return False
        problem = self._source_problem()
        if problem is not None:
            if not retry:
                self._polling(problem, None)
            return False
        try:
            watch.start()
        except OutOfWatches as exc:
            self._out_of_watches(exc)
            return False
        except OSError as exc:
            if not retry:
                self._polling(f"cannot watch the source: {exc.strerror or exc}", None)
            return False
        self.setup.board.update(
            self.key, mode="watching", reason=None, fix=None, watches=watch.watches
        )
        self._say(f"watching {show_path(self.key)} ({watch.watches} folders)")
        return True

    def _handle(self, watch: TreeWatch, batch: Batch) -> bool:
        if batch.out_of_watches:
            watch.close()
            self._out_of_watches(OutOfWatches(0, kernel=False))
            self._changed(1)
            return False
        if batch.overflow:
            return self._overflowed(watch)
        if batch.rules_changed:
            self._say("an ignore file changed: watching with the new rules")
            if not self._restart(watch):
                return False
        if batch.changes:
            self._changed(batch.changes)
        return True

    def _source_problem(self) -> str | None:
        """Why the source must not be watched: the store records another folder, which
        still exists (a nested mount's folder swapped for a symlink by the agent of the
        outer mount resolves to the link's target). Nothing there is read; the snapshots
        refuse it too, and say so."""
        try:
            check_recorded_source(self.store, Path(os.path.realpath(self.mount.source)))
        except AgsekitError as exc:
            return exc.message
        return None

    def _restart(self, watch: TreeWatch) -> bool:
        problem = self._source_problem()
        if problem is not None:
            watch.close()
            self._polling(problem, None)
            self._changed(1)
            return False
        try:
            watch.start()
        except OutOfWatches as exc:
            self._out_of_watches(exc)
            self._changed(1)
            return False
        except OSError as exc:
            self._polling(f"cannot watch the source: {exc.strerror or exc}", None)
            self._changed(1)
            return False
        self.setup.board.update(self.key, watches=watch.watches)
        return True

    def _overflowed(self, watch: TreeWatch) -> bool:
        now = time.monotonic()
        self._overflows = [t for t in self._overflows if t > now - STORM[1]] + [now]
        limit = inotify.kernel_limit("max_queued_events") or 16384
        fix = f"sudo sysctl fs.inotify.max_queued_events={max(limit * 4, 65536)}"
        count = len(self._overflows)
        self._say("the event queue overflowed (events were lost): a full check follows")
        self.setup.board.update(
            self.key, overflows=self._total_overflows() + 1, last_overflow=utc_text()
        )
        self._changed(1)
        if count >= STORM[0]:
            watch.close()
            self._polling(
                f"the event queue overflowed {count} times in {STORM[1] / 60:g} minutes", fix
            )
            return False
        return self._restart(watch)

    def _total_overflows(self) -> int:
        state = self.setup.board.mounts.get(self.key)
        return state.overflows if state is not None else 0

    def _out_of_watches(self, exc: OutOfWatches) -> None:
        needed = exc.needed
        limit = inotify.kernel_limit("max_user_watches")
        if exc.kernel or self.setup.budget.total >= (limit or 0) // 2:
            wanted = max(2 * (needed + self.setup.budget.used), limit or 0, 65536)
            wanted = -(-wanted // 65536) * 65536
            fix = (
                f"sudo sysctl fs.inotify.max_user_watches={wanted} (to keep it: echo "
                f"fs.inotify.max_user_watches={wanted} | sudo tee "
                "/etc/sysctl.d/90-agsekit-inotify.conf), then agsekit daemon restart"
            )
        else:
            fix = "raise watch_budget in the config (the service reloads it)"
        needs = f" (it needs {needed})" if needed else ""
        self._polling(
            f"the tree needs more inotify watches than are left{needs}: budget "
            f"{self.setup.budget.total}, kernel limit fs.inotify.max_user_watches={limit}",
            fix,
        )

    def _polling(self, reason: str, fix: str | None) -> None:
        every = f"checking every {self.mount.interval_minutes:g} minutes instead"
        self.setup.board.update(self.key, mode="polling", reason=reason, fix=fix, watches=0)
        self._say(
            f"POLLING {show_path(self.key)}: {reason}; {every}" + (f"; fix: {fix}" if fix else "")
        )

    def _changed(self, count: int) -> None:
        with self._cond:
            first = self._schedule.pending is None
            self._schedule = timers.changed(self._schedule, time.monotonic(), count)
            pending = self._schedule.pending
            self._cond.notify_all()
        fields: dict[str, object] = {"pending_changes": pending.count if pending else 0}
        if first:
            fields["pending_since"] = utc_text()
        self.setup.board.update(self.key, **fields)

    # ----- checks ---------------------------------------------------------------------

    def _check_loop(self) -> None:
        with ExitStack() as registration:
            registered = False
            mono, boot = time.monotonic(), boottime()
            while not self.stop.is_set():
                if not registered:
                    registered = self._register(registration)
                with self._cond:
                    at, why = timers.due(self._schedule, self.mount.timing)
                    wait = at - time.monotonic()
                    if wait > 0:
                        self._cond.wait(min(wait, SLICE))
                now, now_boot = time.monotonic(), boottime()
                if (now_boot - boot) - (now - mono) > SLEPT:
                    self._say("the machine slept or the clock jumped: checking at once")
                    with self._cond:
                        self._schedule = timers.woke(self._schedule, now)
                mono, boot = now, now_boot
                if wait <= 0 and not self.stop.is_set():
                    self._check(why)

    def _register(self, stack: ExitStack) -> bool:
        try:
            stack.enter_context(self.store.loop_registration())
            stack.enter_context(self.store.service_registration())
        except (AgsekitError, OSError):
            return False  # the store cannot be created yet (a disk not mounted): next time
        return True

    def _check(self, why: timers.Why) -> None:
        with self._cond:
            began = time.monotonic()
            self._schedule = timers.started(self._schedule)
        self.setup.board.update(
            self.key, pending_changes=0, pending_since=None, last_check=utc_text()
        )
        self.reporter.warnings.clear()
        result = run_once(self._job(), self.store, self.stop)
        ended = time.monotonic()
        created = isinstance(result, SnapshotOutcome) and result.status == "created"
        with self._cond:
            self._schedule = timers.finished(
                self._schedule,
                began=began,
                ended=ended,
                interval=self.mount.interval_minutes * 60,
                created=created,
            )
            next_at, _ = timers.due(self._schedule, self.mount.timing)
        self._checks += 1
        self._record(result, "start" if self._checks == 1 else why)
        delay = max(0.0, next_at - time.monotonic())
        next_text = utc_text(datetime.now(timezone.utc) + timedelta(seconds=delay))
        self.setup.board.update(self.key, next_check=next_text)
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"r")  # a polling mount tries to watch again

    def _job(self) -> LoopJob:
        return LoopJob(
            self.request,
            self.mount.interval_minutes,
            self.reporter,
            aftercare=self._aftercare,
        )

    def _aftercare(self, outcome: SnapshotOutcome) -> None:
        after_snapshot(
            self.store,
            outcome,
            self.reporter,
            alarm=self.setup.alarm,
            retention=self.mount.retention,
            notifier=self.setup.notifier,
        )

    def _record(self, result: SnapshotOutcome | str | None, why: str) -> None:
        if result is None:
            return  # stopped
        if isinstance(result, str):
            self._failed(result)
            return
        if result.status == "refused":
            self._failed(result.message or "the snapshot was refused")
            return
        fields: dict[str, object] = {"last_error": None, "last_error_at": None}
        if result.status == "created":
            fields.update(last_snapshot=result.name, last_snapshot_at=utc_text())
            self._say(
                f"snapshot {result.name} ({why}): +{result.added} ~{result.modified} "
                f"-{result.deleted} files, {result.copied_files} copied"
            )
        else:
            latest = result.name
            fields.update(last_snapshot=latest)
            if latest is not None:
                fields["last_snapshot_at"] = _snapshot_time(latest)
            self._say(f"no change since {latest} ({why})")
        if self._last_error is not None:
            self._say("snapshots work again")
        self._last_error = None
        self.setup.board.update(self.key, **fields)

    def _failed(self, message: str) -> None:
        self.setup.board.update(self.key, last_error=message, last_error_at=utc_text())
        self._say(f"FAILED: {message}")
        if message != self._last_error:  # once per distinct failure, not at every retry
            self.setup.notifier("agsekit: snapshots are failing", f"{self.key}: {message}")
        self._last_error = message


def _snapshot_time(name: str) -> str | None:
    try:
        return utc_text(parse_name(name))
    except ValueError:
        return None


Factory = Callable[[WorkerSetup], MountWorker]
