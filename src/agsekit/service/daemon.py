"""`agsekit daemon run`: every configured mount under watch, until stopped.

The config file is looked at every CONFIG_POLL seconds (one stat; editors that replace
the file and symlinked configs are both seen). A config that loads replaces the running
one: mounts that did not change keep running, the others are started or stopped. One
that does not load keeps the last good one running and is reported in the status (and
the log) with its errors until it is fixed; a config broken from the start means no
mounts until it is fixed, never a crash loop. The VMs' port-forwarding is kept up here
too (network/forwards.py), changed with the config.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agsekit.config.model import Config, MountSpec
from agsekit.core.errors import ConfigError
from agsekit.network.forwards import Forwarding
from agsekit.service.state import Board, DaemonLog, running_lock, utc_text
from agsekit.service.watch import WatchBudget
from agsekit.service.worker import MountWorker, WorkerSetup
from agsekit.snapshots.keep.alarm import Notifier
from agsekit.tools import inotify
from agsekit.tools.runner import CHILDREN
from agsekit.vm.backends import default_backend

CONFIG_POLL = 1.0
DEFAULT_BUDGET = 8192

Loader = Callable[[Path], Config]


@dataclass(frozen=True)
class DaemonSetup:
    config_path: Path
    state: Path  # the folder of status.json and the lock
    log: DaemonLog
    loader: Loader
    notifier: Notifier
    agsekit: str  # the command that runs this agsekit, for status


def watch_budget(config: Config) -> int:
    if config.watch_budget is not None:
        return config.watch_budget
    limit = inotify.kernel_limit("max_user_watches")
    return max(1, limit // 2) if limit else DEFAULT_BUDGET


class Daemon:
    def __init__(self, setup: DaemonSetup) -> None:
        self.setup = setup
        self.log = setup.log
        self.board = Board(
            setup.state,
            {
                "pid": os.getpid(),
                "started": utc_text(),
                "config": str(setup.config_path),
                "config_error": None,
                "agsekit": setup.agsekit,
            },
        )
        self.config: Config | None = None
        self.budget = WatchBudget(DEFAULT_BUDGET)
        self.workers: dict[str, MountWorker] = {}
        self.reload_now = threading.Event()
        self.forwarding = Forwarding(default_backend(), self.log.write, "service")
        self._seen: tuple[int, int, int, int] | None = None
        self._error: str | None = None

    def run(self, stop: threading.Event) -> None:
        """Until stop is set (or KeyboardInterrupt: SIGTERM, Ctrl+C)."""
        with running_lock(self.setup.state):
            self.board.start()
            self.log.write(f"service started (pid {os.getpid()}), config {self.setup.config_path}")
            try:
                self._seen = self._stamp()
                self._load()
                while not stop.wait(CONFIG_POLL):
                    stamp = self._stamp()
                    if stamp != self._seen or self.reload_now.is_set():
                        self.reload_now.clear()
                        self._seen = stamp
                        self._load()
            finally:
                self._shutdown()

    def _stamp(self) -> tuple[int, int, int, int] | None:
        try:
            st = os.stat(self.setup.config_path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)

    def _load(self) -> None:
        try:
            config = self.setup.loader(self.setup.config_path)
        except ConfigError as exc:
            self._broken(exc)
            return
        if self._error is not None:
            self.log.write("the config loads again")
        self._error = None
        self.board.set_header(config_error=None)
        self._apply(config)
        self.forwarding.apply({name: vm.forwards for name, vm in config.vms.items()})

    def _broken(self, exc: ConfigError) -> None:
        text = "\n".join([exc.message, *exc.problems])
        keeping = "keeping the last good config" if self.config else "no mounts until it loads"
        if text != self._error:
            self.log.write(f"CONFIG ERROR ({keeping}): " + text.replace("\n", "\n  "))
        self._error = text
        self.board.set_header(
            config_error={"message": exc.message, "problems": exc.problems, "since": utc_text()}
        )

    def _apply(self, config: Config) -> None:
        old = self.config
        self.config = config
        budget = watch_budget(config)
        everything = old is None or budget != self.budget.total or config.alarm != old.alarm
        wanted = {str(m.source): m for m in config.mounts}
        if everything:
            self._stop_workers(list(self.workers))
            self.budget = WatchBudget(budget)
        else:
            gone = [k for k, w in self.workers.items() if wanted.get(k) != w.mount]
            self._stop_workers(gone)
        started = [key for key in wanted if key not in self.workers]
        for key in started:
            self._start_worker(config, wanted[key])
        what = "loaded" if old is None else "reloaded"
        self.log.write(
            f"config {what}: {len(config.mounts)} mount(s)"
            + (f"; (re)started {', '.join(started)}" if started and old is not None else "")
        )

    def _start_worker(self, config: Config, mount: MountSpec) -> None:
        worker = MountWorker(
            WorkerSetup(mount, config.alarm, self.budget, self.board, self.log, self.setup.notifier)
        )
        self.workers[str(mount.source)] = worker
        worker.start()

    def _stop_workers(self, keys: list[str]) -> None:
        stopping = [self.workers.pop(k) for k in keys if k in self.workers]
        for worker in stopping:
            worker.stop.set()
        for worker in stopping:
            worker.shutdown()

    def _shutdown(self) -> None:
        self.log.write("service stopping")
        self.forwarding.stop()
        for worker in self.workers.values():
            worker.stop.set()
        CHILDREN.terminate_all()
        self._stop_workers(list(self.workers))
        self.board.stop()
        self.log.write("service stopped")
