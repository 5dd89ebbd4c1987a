"""Repeated snapshots: one loop per source, several loops in one process.

A loop holds the store's lock only while it takes a snapshot, never for its lifetime, so
`backup-once`, other loops and agent sessions can share the store. A loop never dies
quietly and never depends on its output: a failed run (an error, an unexpected exception,
a source that is missing for now) is logged and reported, and the loop tries again at the
next interval.
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass

from agsekit.core.errors import AgsekitError
from agsekit.core.reporting import Reporter
from agsekit.snapshots.engine.build import Cancelled
from agsekit.snapshots.engine.snapshot import (
    After,
    SnapshotOutcome,
    SnapshotRequest,
    check_placement,
    take_snapshot,
)
from agsekit.snapshots.engine.store import Store
from agsekit.tools.runner import CHILDREN

OutcomeHandler = Callable[[SnapshotOutcome], None]
# What one run came to: the outcome, the reason it failed, or None when it was stopped.
RunResult = SnapshotOutcome | str | None


@dataclass(frozen=True)
class LoopJob:
    request: SnapshotRequest
    interval_minutes: float
    reporter: Reporter
    on_outcome: OutcomeHandler | None = None  # after the lock is released: say what happened
    aftercare: After | None = None  # under the lock: the alarm, retention


def run_loop(job: LoopJob, stop: threading.Event) -> None:
    """Snapshot now, then every interval, until stop is set. A store placed where no retry
    can help (inside the source) ends the loop at once; a missing source is retried."""
    check_placement(job.request.source, job.request.dest)
    store = Store(job.request.dest)
    with ExitStack() as registration:
        registered = False
        while not stop.is_set():
            if not registered:
                registered = _register(store, registration)
            run_once(job, store, stop)
            if stop.is_set():
                break
            _say(job.reporter.info, f"Done, waiting {job.interval_minutes:g} minutes")
            stop.wait(job.interval_minutes * 60)


def _register(store: Store, stack: ExitStack) -> bool:
    try:
        stack.enter_context(store.loop_registration())
    except (AgsekitError, OSError):
        return False  # the store cannot be created yet (a disk not mounted): next time
    return True


def _say(emit: Callable[[str], None], text: str) -> None:
    with contextlib.suppress(OSError):  # a loop must not depend on its output
        emit(text)


def run_once(job: LoopJob, store: Store, stop: threading.Event) -> RunResult:
    wait = f"trying again in {job.interval_minutes:g} minutes"
    try:
        outcome = take_snapshot(
            job.request,
            job.reporter,
            refuse_empty=False,
            after=job.aftercare,
            cancelled=stop.is_set,
        )
    except (Cancelled, KeyboardInterrupt):
        _say(job.reporter.info, "stopped; the unfinished snapshot was removed")
        if isinstance(stop, threading.Event):
            stop.set()
        return None
    except AgsekitError as exc:
        if stop.is_set():
            _say(job.reporter.info, "stopped; the unfinished snapshot was removed")
            return None
        _say(
            job.reporter.warning, f"snapshot of {job.request.source} failed: {exc.message}; {wait}"
        )
        store.log(f"failed: {exc.message}")
        return exc.message
    except Exception as exc:
        _say(
            job.reporter.warning,
            f"snapshot of {job.request.source} failed unexpectedly: {exc!r}; {wait}",
        )
        store.log(f"unexpected failure: {exc!r}")
        for line in traceback.format_exc().splitlines():
            store.log(f"  {line}")
        return f"unexpected failure: {exc!r}"
    if job.on_outcome is not None:
        try:
            job.on_outcome(outcome)
        except Exception as exc:
            text = exc.message if isinstance(exc, AgsekitError) else str(exc)
            _say(job.reporter.warning, f"after snapshot {outcome.name}: {text}")
            store.log(f"after snapshot {outcome.name} failed: {text}")
    return outcome


def run_loops(jobs: Sequence[LoopJob], stop: threading.Event) -> list[BaseException]:
    """Run every job in its own thread until stop is set.

    On KeyboardInterrupt (Ctrl+C, or SIGTERM/SIGHUP turned into one) every loop is
    stopped and given time to remove its unfinished snapshot before the interrupt goes
    on. Returns the errors that ended loops (none, normally: loops retry)."""
    errors: list[BaseException] = []
    # Events, not Thread.join: a join interrupted by Ctrl+C can report a live thread as
    # finished (CPython 3.11), which would let the process exit in the middle of cleanup.
    finished = [threading.Event() for _ in jobs]

    def guarded(job: LoopJob, done: threading.Event) -> None:
        try:
            run_loop(job, stop)
        except BaseException as exc:
            _say(job.reporter.warning, f"the loop for {job.request.source} stopped: {exc!r}")
            errors.append(exc)
        finally:
            done.set()

    for job, done in zip(jobs, finished, strict=True):
        threading.Thread(
            target=guarded, args=(job, done), name=str(job.request.source), daemon=True
        ).start()
    try:
        while not all(done.is_set() for done in finished):
            stop.wait(0.2)
    finally:
        stop.set()
        CHILDREN.terminate_all()
        for done in finished:
            done.wait(timeout=60)
    return errors
