"""Plan a restore: what applying it would change, path by path. Nothing is written.

The plan compares the snapshot's entries with what the target holds now, looking at the
target only through descriptors (never through a symlink). "Ignored" means left out by
the rules of the snapshot being restored, which the snapshot recorded: such live paths
are never removed or replaced, whatever `--delete` says, and the plan lists them as kept.
A live path that only the live rules hide (say an agent listed its planted `.envrc` in
the live `.backupignore`) is an ordinary extra: `--delete` removes it, after the safety
snapshot has saved it.

Every path the restore will overwrite or remove is in `touched`, with the identity the
plan saw: the safety snapshot must hold each of them, and applying checks each against
it again, so that an entry swapped in the meantime is left alone.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from agsekit.core.display import show_path
from agsekit.core.errors import UsageError
from agsekit.core.paths import is_within, really_within
from agsekit.snapshots.engine.content import digest_at
from agsekit.snapshots.engine.manifest import Manifest
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.engine.tree import DIR, FILE, LINK, Meta, Tree, same_identity
from agsekit.snapshots.engine.walk import RuleSource, WalkResult, walk_path, walk_tree
from agsekit.snapshots.history.catalog import snapshot_manifest, snapshot_rules
from agsekit.snapshots.history.selection import ancestors, select
from agsekit.tools import root as fs

TEMP_PREFIX = b".agsekit-restore-"  # a file being written, before its rename into place
_TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + rb"[0-9a-f]{12}")


def is_restore_temporary(path: bytes) -> bool:
    """Named like the temporary file of a restore (one a killed restore leaves behind)."""
    return _TEMP_NAME.fullmatch(path.rpartition(b"/")[2]) is not None


@dataclass(frozen=True)
class Wanted:
    """Paths (all of it when empty) to bring back from one snapshot."""

    snapshot: str
    paths: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class Seen:
    """A live entry as the plan saw it: what applying checks it against again."""

    dev: int
    ino: int
    ctime_ns: int
    is_dir: bool

    @classmethod
    def of(cls, st: os.stat_result) -> Seen:
        return cls(st.st_dev, st.st_ino, st.st_ctime_ns, stat.S_ISDIR(st.st_mode))

    @classmethod
    def walked(cls, meta: Meta) -> Seen:
        return cls(meta.dev, meta.ino, meta.ctime_ns, meta.kind == DIR)

    @property
    def identity(self) -> fs.Identity:
        return (self.dev, self.ino)


@dataclass
class RestorePlan:
    target: bytes  # the folder restored into (real path)
    snapshots: dict[str, Manifest]
    entries: Tree  # the snapshot entries being restored, their folders included
    origin: dict[bytes, str]  # path -> the snapshot its content comes from
    create: list[bytes] = field(default_factory=list)  # absent now
    overwrite: list[bytes] = field(default_factory=list)  # present with other content
    replace: list[bytes] = field(default_factory=list)  # of another kind now: removed first
    removed_inside: list[bytes] = field(default_factory=list)  # inside replaced folders
    delete: list[bytes] = field(default_factory=list)  # extras removed (--delete)
    kept: list[bytes] = field(default_factory=list)  # extras left alone (no --delete)
    kept_ignored: list[bytes] = field(default_factory=list)  # left out by the snapshot's rules
    skipped: list[tuple[bytes, str]] = field(default_factory=list)  # left alone, and why
    unchanged: int = 0
    fresh_dirs: set[bytes] = field(default_factory=set)  # folders the restore creates
    blocked: set[bytes] = field(default_factory=set)  # left alone with all they hold
    selected_dirs: set[bytes] = field(default_factory=set)  # folders whose modes it sets
    live: dict[bytes, Seen] = field(default_factory=dict)  # what the plan saw
    target_exists: bool = True
    leftovers: list[bytes] = field(default_factory=list)  # temporary files of a killed restore
    special: list[bytes] = field(default_factory=list)  # FIFOs, sockets, devices it replaces

    @property
    def changes(self) -> int:
        return len(self.create) + len(self.overwrite) + len(self.delete)

    @property
    def touched(self) -> list[bytes]:
        """Every live path the restore overwrites or removes."""
        return self.overwrite + self.removed_inside + self.delete

    @property
    def snapshot(self) -> str:
        return next(iter(self.snapshots))


def plan_restore(store: Store, wanted: list[Wanted], target: Path, *, delete: bool) -> RestorePlan:
    """Plan bringing `wanted` back into target (a real path: symlinks resolved, and
    never resolved again, so that it is opened only where it was checked to be). A path a
    snapshot does not hold is an error raised before anything is looked at in the target."""
    snapshots: dict[str, Manifest] = {}
    entries: Tree = {}
    origin: dict[bytes, str] = {}
    chosen_dirs: set[bytes] = set()
    for item in wanted:
        found = snapshots.get(item.snapshot) or snapshot_manifest(store, item.snapshot)
        snapshots[item.snapshot] = found
        chosen = select(found.tree, list(item.paths), item.snapshot)
        for path, meta in chosen.items():
            for parent in ancestors(path):
                entries.setdefault(parent, found.tree[parent])
            entries[path] = meta
            origin[path] = item.snapshot
            if meta.kind == DIR:
                chosen_dirs.add(path)
    entries.setdefault(b"", next(iter(snapshots.values())).tree[b""])
    ordered = {p: entries[p] for p in sorted(entries, key=_tree_order)}
    plan = RestorePlan(os.fsencode(os.path.abspath(target)), snapshots, ordered, origin)
    plan.selected_dirs = chosen_dirs
    if not os.path.isdir(plan.target):
        plan.target_exists = False
        plan.create = [p for p in ordered if p]
        plan.fresh_dirs = {p for p, m in ordered.items() if m.kind == DIR}
        return plan
    primary = wanted[0]
    rules = snapshot_rules(store, primary.snapshot, snapshots[primary.snapshot])
    live = _live_walk(plan.target, store, rules)
    plan.leftovers = _take_leftovers(live)
    _compare_entries(plan, store, live, delete)
    if len(wanted) == 1:
        _extras(plan, live, list(primary.paths), delete)
    return plan


def _take_leftovers(walk: WalkResult) -> list[bytes]:
    """A restore killed while it wrote a file leaves it under its temporary name: not the
    user's, never kept or saved, but removed before anything else (apply.discard_leftovers)."""
    found = [p for p, m in walk.tree.items() if m.kind != DIR and is_restore_temporary(p)]
    for path in found:
        del walk.tree[path]
    return found


def _tree_order(path: bytes) -> tuple[bytes, ...]:
    return tuple(path.split(b"/")) if path else ()


def _live_walk(target: bytes, store: Store, rules: RuleSource) -> WalkResult:
    try:
        return walk_path(target, rules, skip=store.own_folder(), real=True)
    except OSError as exc:
        raise UsageError(f"cannot read {show_path(target)}: {exc.strerror or exc}") from None


@dataclass
class _Looker:
    """Looks at live entries through descriptors, and at the snapshots' copies."""

    plan: RestorePlan
    store: Store
    walk: WalkResult
    cursor: fs.DirCursor
    delete: bool
    blocked: set[bytes] = field(default_factory=set)

    def stat(self, path: bytes) -> os.stat_result | None:
        try:
            parent, name = self.cursor.parent_of(path)
            return fs.lstat_at(parent, name)
        except (fs.TreeChanged, FileNotFoundError):
            return None

    def under_unreadable(self, path: bytes) -> bool:
        return any(
            path == u or path.startswith(u + b"/") or u == b"" for u in self.walk.unreadable_dirs
        )


def _compare_entries(plan: RestorePlan, store: Store, walk: WalkResult, delete: bool) -> None:
    """Sort every snapshot entry into create / overwrite / replace / unchanged / skipped.
    Below a folder that is created or replaced, everything is new."""
    with fs.opened(fs.open_real(plan.target)) as rootfd, fs.DirCursor(rootfd) as cursor:
        plan.live[b""] = Seen.of(os.fstat(rootfd))
        looker = _Looker(plan, store, walk, cursor, delete)
        for path, meta in plan.entries.items():
            if path and not _below(path, looker.blocked):
                _classify(looker, path, meta)
        plan.blocked = looker.blocked
    for folder in walk.unreadable_dirs:
        plan.skipped.append(
            (folder, "could not be read; the restore leaves it and what it holds alone")
        )


def _classify(looker: _Looker, path: bytes, meta: Meta) -> None:
    plan = looker.plan
    # Entries come parent first, and a folder below a fresh one is made fresh itself
    # below: the parent alone tells whether path lies in a folder the restore creates.
    if fs.parent_and_name(path)[0] in plan.fresh_dirs:
        st = None
    elif looker.under_unreadable(path):
        looker.blocked.add(path)
        return
    else:
        st = looker.stat(path)
    if st is None:
        plan.create.append(path)
        if meta.kind == DIR:
            plan.fresh_dirs.add(path)
        return
    plan.live[path] = Seen.of(st)
    if _kind(st.st_mode) != meta.kind:
        if not _may_replace(plan, looker.walk, path, st, looker.delete):
            looker.blocked.add(path)
            return
        plan.replace.append(path)
        plan.overwrite.append(path)
        if _kind(st.st_mode) == "other":
            plan.special.append(path)  # no content, no snapshot can hold it: nothing to save
        if meta.kind == DIR:
            plan.fresh_dirs.add(path)
    elif meta.kind == DIR or _same(looker, path, meta, st):
        plan.unchanged += meta.kind != DIR
    else:
        plan.overwrite.append(path)


def _below(path: bytes, folders: set[bytes]) -> bool:
    if not folders:  # the usual case for `blocked`: no need to list the ancestors
        return False
    return any(parent in folders for parent in ancestors(path))


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return DIR
    if stat.S_ISLNK(mode):
        return LINK
    if stat.S_ISREG(mode):
        return FILE
    return "other"


def _may_replace(
    plan: RestorePlan, walk: WalkResult, path: bytes, st: os.stat_result, delete: bool
) -> bool:
    """A live folder where the snapshot has a file or a link is replaced only when
    nothing inside it is ignored by the snapshot's rules, and, without --delete, only
    when it is empty."""
    if not stat.S_ISDIR(st.st_mode):
        return True
    prefix = path + b"/"
    ignored = [p for p in walk.excluded if p.startswith(prefix)]
    if ignored:
        shown = ", ".join(show_path(p) for p in ignored[:5])
        plan.skipped.append(
            (
                path,
                f"the snapshot has a file here, but the live folder holds paths the "
                f"snapshot's rules leave out ({shown}); not replaced",
            )
        )
        return False
    inside = [p for p in walk.tree if p.startswith(prefix)]
    unknown = path in walk.unreadable_dirs or any(
        u.startswith(prefix) for u in walk.unreadable_dirs
    )
    if unknown:
        plan.skipped.append((path, "a folder that could not be read; not replaced"))
        return False
    if inside and not delete:
        plan.skipped.append(
            (
                path,
                f"the snapshot has a file here, but the live folder holds {len(inside)} "
                "entries; add --delete to replace it",
            )
        )
        return False
    plan.removed_inside.extend(inside)
    for inner in inside:
        plan.live.setdefault(inner, Seen.walked(walk.tree[inner]))
    return True


def _same(looker: _Looker, path: bytes, meta: Meta, st: os.stat_result) -> bool:
    if meta.kind == LINK:
        parent, name = looker.cursor.parent_of(path)
        try:
            return os.fsencode(os.readlink(name, dir_fd=parent)) == meta.target
        except OSError:
            return False
    if stat.S_IMODE(st.st_mode) != meta.mode or st.st_size != meta.size:
        return False
    if st.st_mtime_ns != meta.mtime_ns:
        return False
    live = Meta(FILE, meta.mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, None)
    if same_identity(meta, live):
        return True  # the very file the snapshot copied, untouched since
    recorded = meta.digest
    if recorded is None:
        snapshot = looker.store.path_of(looker.plan.origin[path])
        with fs.opened(fs.open_root(snapshot)) as snapfd, fs.DirCursor(snapfd) as snap:
            recorded = digest_at(snap, path, None)
    return recorded is not None and recorded == digest_at(looker.cursor, path, fs.identity(st))


def _extras(plan: RestorePlan, walk: WalkResult, paths: list[bytes], delete: bool) -> None:
    """Live entries below the restored paths that the snapshot lacks: removed with
    --delete (all of them, so that the safety snapshot can hold each), else kept."""
    snapshot = plan.snapshots[plan.snapshot]
    full = snapshot.tree
    whole = not paths or b"" in paths
    folders = [p for p in paths if p in plan.entries and plan.entries[p].kind == DIR]
    if not whole and not folders:
        return
    prefixes = tuple(p + b"/" for p in folders)

    def in_scope(path: bytes) -> bool:
        return bool(path) and (whole or path.startswith(prefixes))

    replaced = set(plan.replace)
    extra = [
        p
        for p in walk.tree
        if in_scope(p) and p not in full and not _below(p, replaced) and not _below_blocked(plan, p)
    ]
    plan.kept_ignored = [p for p in walk.excluded if in_scope(p) and not _below(p, replaced)]
    if not delete:
        plan.kept = _tops(extra)
        return
    holding = {a for p in walk.excluded for a in ancestors(p)}
    for path in extra:
        if walk.tree[path].kind == DIR and path in holding:
            continue  # it still holds ignored paths: emptied of the rest, but kept
        plan.delete.append(path)
        plan.live.setdefault(path, Seen.walked(walk.tree[path]))
    _absent_to_delete(plan, in_scope)


def _absent_to_delete(plan: RestorePlan, in_scope: object) -> None:
    """Paths the snapshot vouches were absent (the restore its safety snapshot was taken
    for created them) are removed by --delete even when the rules hide them."""
    absent = plan.snapshots[plan.snapshot].absent
    if not absent:
        return
    with fs.opened(fs.open_real(plan.target)) as rootfd:
        for path in sorted(absent, key=_tree_order):
            if path in plan.delete or _below(path, set(plan.delete)):
                continue
            try:
                parent_fd = fs.open_dir_path(rootfd, fs.parent_and_name(path)[0])
            except OSError:
                continue
            with fs.opened(parent_fd):
                st = fs.lstat_at(parent_fd, fs.parent_and_name(path)[1])
                if st is None:
                    continue
                plan.live[path] = Seen.of(st)
                if stat.S_ISDIR(st.st_mode):
                    name = fs.parent_and_name(path)[1]
                    with fs.opened(fs.open_dir_at(parent_fd, name, fs.identity(st))) as fd:
                        inside = walk_tree(fd, RuleSource(read_tree=False))
                    for inner, meta in inside.tree.items():
                        if inner:
                            full = path + b"/" + inner
                            plan.delete.append(full)
                            plan.live[full] = Seen.walked(meta)
                plan.delete.append(path)


def _below_blocked(plan: RestorePlan, path: bytes) -> bool:
    blocked = {p for p, _why in plan.skipped}
    return path in blocked or _below(path, blocked)


def _tops(paths: list[bytes]) -> list[bytes]:
    """Only the top of each subtree: a folder stands for what it holds."""
    seen: set[bytes] = set()
    top = []
    for path in paths:
        if not any(a in seen for a in ancestors(path)):
            top.append(path)
        seen.add(path)
    return top


def check_restore_folder(target: Path, store: Store, source: Path | None, force: bool) -> None:
    """--to DIR: a new or empty folder, outside the store and not the live source itself."""
    if really_within(target, store.dest):
        raise UsageError(f"cannot restore into the snapshot folder {store.dest}")
    if is_within(os.path.realpath(store.dest), os.path.realpath(target)):
        raise UsageError(
            f"{target} holds the snapshot folder {store.dest}; choose a folder outside it"
        )
    if source is not None and os.path.realpath(target) == os.path.realpath(source):
        raise UsageError(
            f"{target} is the live folder itself",
            hint="use --in-place: it first saves the current state so the restore can be undone",
        )
    if os.path.lexists(target) and not os.path.isdir(target):
        raise UsageError(f"{target} exists and is not a folder")
    if os.path.isdir(target) and os.listdir(target) and not force:
        raise UsageError(
            f"{target} is not empty",
            hint="choose a new folder, or add --force to restore over what it holds",
        )
