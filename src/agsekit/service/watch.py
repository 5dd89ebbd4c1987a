"""Watch one mount's tree with inotify: which events are changes a snapshot would see.

Every folder a snapshot would enter gets one watch: folders the ignore rules leave out,
the store (when it lies inside the source) and folders deeper than the walk's limit are
not watched at all. An event is a change unless the rules leave its path out; a
`.backupignore` event is always a change (it changes what the next snapshot holds) and
rebuilds the watches with the new rules. A queue overflow means events were lost: the
caller runs a full check and the watches are rebuilt. When the tree needs more watches
than the budget allows, nothing is watched and the caller polls instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from agsekit.snapshots.engine.walk import IGNORE_FILE, IGNORE_FILE_CAP, MAX_DEPTH, RuleSource
from agsekit.snapshots.ignore import IgnoreRules
from agsekit.tools import inotify
from agsekit.tools import root as fs

Visit = Callable[[int, bytes, IgnoreRules], None]


class WatchBudget:
    """The inotify watches all mounts together may use."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.used >= self.total:
                return False
            self.used += 1
            return True

    def give(self, count: int = 1) -> None:
        with self._lock:
            self.used = max(0, self.used - count)


@dataclass
class Batch:
    """What one read of the queue found."""

    changes: int = 0
    overflow: bool = False
    rules_changed: bool = False
    out_of_watches: bool = False
    example: bytes | None = None  # one changed path, for the log


class OutOfWatches(Exception):
    """The tree needs more watches than the budget or the kernel allows."""

    def __init__(self, needed: int, kernel: bool) -> None:
        super().__init__(needed)
        self.needed = needed
        self.kernel = kernel  # the kernel refused (else the budget was used up)


@dataclass
class _Dir:
    prefix: bytes  # b"" or b"dir/"
    rules: IgnoreRules


@dataclass
class TreeWatch:
    source: bytes
    rule_source: RuleSource
    store_inside: bytes | None  # the store's path in the source, when it lies inside
    budget: WatchBudget
    _queue: inotify.Inotify | None = None
    _dirs: dict[int, _Dir] = field(default_factory=dict)
    _wds: dict[bytes, int] = field(default_factory=dict)

    @property
    def watches(self) -> int:
        return len(self._dirs)

    def fileno(self) -> int:
        return self._open_queue().fileno()

    def _open_queue(self) -> inotify.Inotify:
        if self._queue is None:
            raise OSError("the tree is not being watched")
        return self._queue

    def start(self) -> None:
        """Watch the whole tree; OutOfWatches (nothing left watched) when it does not fit."""
        self.close()
        self._queue = inotify.Inotify()
        try:
            with fs.opened(fs.open_root(self.source)) as fd:
                self.walk(fd, b"", self.root_rules(fd), 0, self._watch)
        except OutOfWatches as exc:
            self.close()
            needed = count_folders(self.source, self.rule_source, self.store_inside)
            raise OutOfWatches(needed, exc.kernel) from None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._queue is not None:
            self._queue.close()  # drops every watch of this instance at once
            self._queue = None
        self.budget.give(len(self._dirs))
        self._dirs.clear()
        self._wds.clear()

    def read(self) -> Batch:
        """Classify what is queued now."""
        batch = Batch()
        if self._queue is None:
            return batch
        for event in self._queue.read():
            self._classify(event, batch)
        return batch

    # -- watches --

    def _ignore_file(self, fd: int) -> bytes | None:
        if not self.rule_source.read_tree:
            return None
        try:
            return fs.read_regular(fd, IGNORE_FILE, IGNORE_FILE_CAP)
        except OSError:
            return None  # missing, not a file, too large: the snapshot says which

    def root_rules(self, fd: int) -> IgnoreRules:
        return IgnoreRules.root((), self._ignore_file(fd), host_patterns=self.rule_source.host)

    def walk(self, fd: int, prefix: bytes, rules: IgnoreRules, depth: int, visit: Visit) -> None:
        """visit() the folder open at fd and every folder below it that a snapshot enters
        (holding one descriptor per level, never through a symlink)."""
        visit(fd, prefix, rules)
        if depth >= MAX_DEPTH:
            return
        for name in _subfolders(fd):
            path = prefix + name
            if self._skipped(path) or rules.excluded(name, True):
                continue
            try:
                child = fs.open_dir_at(fd, name)
            except OSError:
                continue  # gone or swapped already: its parent's event covers it
            with fs.opened(child):
                below = rules.child(name, self._ignore_file(child))
                self.walk(child, path + b"/", below, depth + 1, visit)

    def _watch(self, fd: int, prefix: bytes, rules: IgnoreRules) -> None:
        queue = self._open_queue()
        if not self.budget.take():
            raise OutOfWatches(0, kernel=False)
        try:
            wd = queue.watch_dir_fd(fd)
        except inotify.WatchLimitError:
            self.budget.give()
            raise OutOfWatches(0, kernel=True) from None
        if wd in self._dirs:
            self.budget.give()  # the same folder again (a watch is per inode)
            self._wds.pop(self._dirs[wd].prefix, None)
        self._dirs[wd] = _Dir(prefix, rules)
        self._wds[prefix] = wd

    def _skipped(self, path: bytes) -> bool:
        store = self.store_inside
        return store is not None and (path == store or path.startswith(store + b"/"))

    def _unwatch_below(self, prefix: bytes) -> None:
        for path in [p for p in self._wds if p.startswith(prefix)]:
            wd = self._wds.pop(path)
            self._dirs.pop(wd, None)
            self.budget.give()
            if self._queue is not None:
                self._queue.unwatch(wd)

    # -- events --

    def _classify(self, event: inotify.RawEvent, batch: Batch) -> None:
        if event.mask & inotify.IN_Q_OVERFLOW:
            batch.overflow = True
            return
        where = self._dirs.get(event.wd)
        if where is None:
            return
        if event.mask & inotify.IN_IGNORED:
            self._forget(event.wd)
            return
        if not event.name:  # the folder itself: its mode, or it moved or went away
            batch.changes += 1
            batch.example = batch.example or where.prefix or b"."
            return
        path = where.prefix + event.name
        is_dir = bool(event.mask & inotify.IN_ISDIR)
        if self._skipped(path):
            return
        if event.name == IGNORE_FILE and self.rule_source.read_tree:
            batch.rules_changed = True
        elif where.rules.excluded(event.name, is_dir):
            return
        batch.changes += 1
        batch.example = batch.example or path
        if is_dir:
            self._folder_event(event, where, path, batch)

    def _folder_event(
        self, event: inotify.RawEvent, where: _Dir, path: bytes, batch: Batch
    ) -> None:
        if event.mask & inotify.IN_MOVED_FROM:
            self._unwatch_below(path + b"/")
        elif event.mask & (inotify.IN_CREATE | inotify.IN_MOVED_TO):
            parent = self._wds.get(where.prefix)
            if parent is None:
                return
            try:
                with (
                    fs.opened(fs.open_root(self.source)) as top,
                    fs.opened(fs.open_dir_path(top, path)) as fd,
                ):
                    below = where.rules.child(event.name, self._ignore_file(fd))
                    self.walk(fd, path + b"/", below, path.count(b"/") + 1, self._watch)
            except OutOfWatches:
                batch.out_of_watches = True
            except OSError:
                pass  # gone again already

    def _forget(self, wd: int) -> None:
        gone = self._dirs.pop(wd, None)
        if gone is not None:
            self._wds.pop(gone.prefix, None)
            self.budget.give()


def _subfolders(fd: int) -> list[bytes]:
    try:
        with os.scandir(fd) as entries:
            return [os.fsencode(e.name) for e in entries if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def count_folders(source: bytes, rule_source: RuleSource, store_inside: bytes | None) -> int:
    """How many watches the tree needs: the folders a snapshot enters."""
    counter = TreeWatch(source, rule_source, store_inside, WatchBudget(0))
    count = [0]

    def visit(fd: int, prefix: bytes, rules: IgnoreRules) -> None:
        count[0] += 1

    try:
        with fs.opened(fs.open_root(source)) as fd:
            counter.walk(fd, b"", counter.root_rules(fd), 0, visit)
    except OSError:
        pass
    return count[0]
