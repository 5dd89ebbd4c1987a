"""Repeated snapshots: one loop per source, several loops in one process.

A loop holds the store's lock only while it takes a snapshot, never for its lifetime, so
`backup-once`, other loops and agent sessions can share the store. A failed run is logged
and reported, and the loop tries again at the next interval: it never dies silently.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agsekit.core.errors import AgsekitError
from agsekit.core.reporting import Reporter
from agsekit.snapshots.engine.snapshot import (
    SnapshotOutcome,
    SnapshotRequest,
    check_paths,
    take_snapshot,
)
from agsekit.snapshots.engine.store import Store
from agsekit.tools.runner import CHILDREN

OutcomeHandler = Callable[[SnapshotOutcome], None]


@dataclass(frozen=True)
class LoopJob:
    request: SnapshotRequest
    interval_minutes: float
    reporter: Reporter
    on_outcome: OutcomeHandler | None = None


def run_loop(job: LoopJob, stop: threading.Event) -> None:
    """Snapshot now, then every interval, until stop is set."""
    check_paths(job.request.source, job.request.dest)
    store = Store(job.request.dest)
    store.ensure()
    with store.loop_registration():
        while not stop.is_set():
            run_once(job, store, stop)
            if stop.is_set():
                break
            job.reporter.info(f"Done, waiting {job.interval_minutes:g} minutes")
            stop.wait(job.interval_minutes * 60)


def run_once(job: LoopJob, store: Store, stop: threading.Event) -> None:
    try:
        outcome = take_snapshot(job.request, job.reporter, refuse_empty=False)
    except AgsekitError as exc:
        if stop.is_set():
            job.reporter.info("stopped; the unfinished snapshot was removed")
            return
        job.reporter.warning(
            f"snapshot of {job.request.source} failed: {exc.message}; "
            f"trying again in {job.interval_minutes:g} minutes"
        )
        store.log(f"failed: {exc.message}")
        return
    if job.on_outcome is not None:
        try:
            job.on_outcome(outcome)
        except (AgsekitError, OSError) as exc:  # the snapshot is safe; keep the loop alive
            text = exc.message if isinstance(exc, AgsekitError) else str(exc)
            job.reporter.warning(f"after snapshot {outcome.name}: {text}")
            store.log(f"after snapshot {outcome.name} failed: {text}")


def run_loops(jobs: Sequence[LoopJob], stop: threading.Event) -> list[BaseException]:
    """Run every job in its own thread until stop is set (or all of them fail to start).

    Returns the errors that ended loops early (a source that is not a folder, say). On
    KeyboardInterrupt every loop is stopped, running rsyncs are terminated, and each loop
    is given time to remove its unfinished snapshot before the interrupt goes on."""
    errors: list[BaseException] = []
    # Events, not Thread.join: a join interrupted by Ctrl+C can report a live thread as
    # finished (CPython 3.11), which would let the process exit in the middle of cleanup.
    finished = [threading.Event() for _ in jobs]

    def guarded(job: LoopJob, done: threading.Event) -> None:
        try:
            run_loop(job, stop)
        except AgsekitError as exc:
            job.reporter.warning(f"not watching {job.request.source}: {exc.message}")
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
