"""Bring a snapshot (or some paths in it) back into a folder: plan first, then apply.

The plan is computed from the snapshot's tree and what the target holds now, and nothing
is written while planning: `--dry-run` is simply "plan and show". Applying it copies (never
hard-links: a later edit of the live file would otherwise change the snapshot), keeps
modes, times and symlinks, and never writes through a symlink: a live symlink standing
where the snapshot has a folder is replaced, and every folder written into is checked to
be a real folder first.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agsekit.core.errors import SnapshotError, UsageError
from agsekit.core.reporting import Reporter
from agsekit.snapshots.engine.store import Store, remove_tree
from agsekit.snapshots.engine.tree import DIR, FILE, LINK, Meta, Tree
from agsekit.snapshots.engine.walk import walk_source
from agsekit.snapshots.history.catalog import recorded_excludes, snapshot_tree
from agsekit.snapshots.history.diff import file_digest
from agsekit.snapshots.history.selection import ancestors, select
from agsekit.tools import rsync

Progress = Callable[[int, int, int, int], None]


@dataclass
class RestorePlan:
    """What applying would do, path by path (paths relative to target)."""

    snapshot: str
    snapshot_root: bytes
    target: bytes
    tree: Tree  # the snapshot entries being restored, ancestors included
    create: list[bytes] = field(default_factory=list)  # absent now
    overwrite: list[bytes] = field(default_factory=list)  # present with other content
    replace: list[bytes] = field(default_factory=list)  # of another kind now: removed first
    delete: list[bytes] = field(default_factory=list)  # not in the snapshot (--delete)
    kept: list[bytes] = field(default_factory=list)  # not in the snapshot, left alone
    unchanged: int = 0
    fresh_dirs: set[bytes] = field(default_factory=set)  # folders created by the restore
    selected_dirs: list[bytes] = field(default_factory=list)  # folders whose attributes it sets

    @property
    def changes(self) -> int:
        return len(self.create) + len(self.overwrite) + len(self.delete)


@dataclass(frozen=True)
class RestoreResult:
    files: int
    links: int
    folders: int
    deleted: int
    bytes: int


def plan_restore(
    store: Store,
    snapshot: str,
    target: Path,
    paths: list[bytes],
    *,
    delete: bool,
) -> RestorePlan:
    full = snapshot_tree(store, snapshot)
    chosen = select(full, paths, snapshot)
    tree: Tree = {}
    for path in chosen:
        for parent in ancestors(path):
            tree.setdefault(parent, full[parent])
        tree[path] = chosen[path]
    root = os.fsencode(os.path.realpath(target))
    plan = RestorePlan(snapshot, os.fsencode(store.path_of(snapshot)), root, tree)
    plan.selected_dirs = [p for p, m in chosen.items() if m.kind == DIR]
    _compare_with_target(plan)
    extra = _extra_entries(plan, store, list(chosen), paths)
    (plan.delete if delete else plan.kept).extend(extra)
    return plan


def _compare_with_target(plan: RestorePlan) -> None:
    """Sort every snapshot entry into create / overwrite / replace / unchanged by looking
    at the target with lstat, never through a symlink: below a folder that is created or
    replaced, everything is new."""
    if not os.path.lexists(plan.target):
        plan.fresh_dirs.add(b"")
    for path, meta in plan.tree.items():
        if path == b"" or _under_fresh(plan, path):
            if path:
                plan.create.append(path)
                if meta.kind == DIR:
                    plan.fresh_dirs.add(path)
            continue
        full = plan.target + b"/" + path
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            plan.create.append(path)
            if meta.kind == DIR:
                plan.fresh_dirs.add(path)
            continue
        if _kind(st.st_mode) != meta.kind:
            plan.replace.append(path)
            plan.overwrite.append(path)
            if meta.kind == DIR:
                plan.fresh_dirs.add(path)
        elif meta.kind == DIR or _same(plan, path, meta, st):
            plan.unchanged += meta.kind != DIR
        else:
            plan.overwrite.append(path)


def _under_fresh(plan: RestorePlan, path: bytes) -> bool:
    parent = os.path.dirname(path)
    return parent in plan.fresh_dirs


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return DIR
    if stat.S_ISLNK(mode):
        return LINK
    if stat.S_ISREG(mode):
        return FILE
    return "other"


def _same(plan: RestorePlan, path: bytes, meta: Meta, st: os.stat_result) -> bool:
    full = plan.target + b"/" + path
    if meta.kind == LINK:
        return os.readlink(full) == meta.target
    if stat.S_IMODE(st.st_mode) != meta.mode or st.st_size != meta.size:
        return False
    if st.st_mtime_ns != meta.mtime_ns:
        return False
    if meta.ctime_ns and meta.ctime_ns == st.st_ctime_ns and meta.ino == st.st_ino:
        return True  # the very file the snapshot copied, untouched since
    return file_digest(full) == file_digest(plan.snapshot_root + b"/" + path)


def _extra_entries(
    plan: RestorePlan, store: Store, chosen: list[bytes], paths: list[bytes]
) -> list[bytes]:
    """Entries the target has below the restored paths that the snapshot lacks. Paths the
    target's .backupignore rules leave out are never touched: no snapshot holds them."""
    if b"" in plan.fresh_dirs:
        return []
    skip: frozenset[tuple[int, int]] = frozenset()
    if store.exists():
        st = os.stat(store.dest)
        skip = frozenset({(st.st_dev, st.st_ino)})
    wanted = set(chosen)
    whole = not paths or b"" in paths
    folders = [p for p in paths if p in plan.tree and plan.tree[p].kind == DIR]
    if not whole and not folders:
        return []  # single files: nothing below them to compare
    prefixes = () if whole else tuple(p + b"/" for p in folders)
    live = walk_source(plan.target, recorded_excludes(store), skip).tree
    extra = [
        p
        for p in live
        if p
        and p not in wanted
        and (whole or p.startswith(prefixes))
        and not _under_fresh_or_replaced(plan, p)
    ]
    # a folder that goes takes its content with it: list only the top of each removal
    gone: set[bytes] = set()
    top = []
    for path in extra:
        if not any(a in gone for a in ancestors(path)):
            top.append(path)
        gone.add(path)
    return top


def _under_fresh_or_replaced(plan: RestorePlan, path: bytes) -> bool:
    replaced = set(plan.replace)
    return any(a in replaced for a in ancestors(path))


# ----- applying ---------------------------------------------------------------------------


def apply_restore(plan: RestorePlan, reporter: Reporter) -> RestoreResult:
    """Make the target match the plan. The caller holds the store's lock, so retention
    cannot remove the snapshot being read."""
    if not os.path.isdir(plan.snapshot_root):
        raise SnapshotError(f"snapshot {plan.snapshot} is gone")
    os.makedirs(plan.target, exist_ok=True)
    for path in plan.replace + plan.delete:
        remove_tree(Path(os.fsdecode(plan.target + b"/" + path)))
    folders = links = 0
    files: list[bytes] = []
    writes = set(plan.create) | set(plan.overwrite)
    for path, meta in plan.tree.items():
        if path not in writes:
            continue
        full = plan.target + b"/" + path
        if meta.kind == DIR:
            _check_real_folders(plan.target, os.path.dirname(path))
            os.mkdir(full, 0o700)
            folders += 1
        elif meta.kind == LINK:
            _check_real_folders(plan.target, os.path.dirname(path))
            if os.path.lexists(full):
                os.unlink(full)
            os.symlink(meta.target or b"", full)
            os.utime(full, ns=(meta.mtime_ns, meta.mtime_ns), follow_symlinks=False)
            links += 1
        else:
            files.append(path)
    copied = _copy_files(plan, files, reporter)
    _set_folder_attributes(plan)
    return RestoreResult(len(files), links, folders, len(plan.delete), copied)


def _check_real_folders(root: bytes, rel: bytes) -> None:
    """Refuse to write below a symlink (something changed the target under the restore)."""
    path = root
    for part in rel.split(b"/") if rel else []:
        path += b"/" + part
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            raise SnapshotError(
                f"{os.fsdecode(path)} is no longer a real folder; the restore stopped"
            )


def _copy_files(plan: RestorePlan, files: list[bytes], reporter: Reporter) -> int:
    if not files:
        return 0
    for folder in sorted({os.path.dirname(p) for p in files}):
        _check_real_folders(plan.target, folder)
    total_bytes = sum(plan.tree[p].size for p in files)

    def progress(done_bytes: int, done_files: int) -> None:
        reporter.progress(done_files, len(files), done_bytes, total_bytes)

    with tempfile.NamedTemporaryFile(prefix="agsekit-restore-") as listing:
        listing.write(b"\0".join(files) + b"\0")
        listing.flush()
        try:
            outcome = rsync.restore_listed(
                plan.snapshot_root, plan.target, Path(listing.name), progress
            )
        finally:
            reporter.progress_done()
    if not outcome.ok:
        raise SnapshotError(rsync.describe_failure(outcome))
    missing = [p for p in files if not os.path.lexists(plan.target + b"/" + p)]
    if missing:
        raise SnapshotError(
            f"{len(missing)} file(s) could not be restored, e.g. {os.fsdecode(missing[0])}"
        )
    return total_bytes


def _set_folder_attributes(plan: RestorePlan) -> None:
    """Modes and times of the restored folders, deepest first, once nothing more is
    written inside them. Existing folders above the restored paths are left as they are."""
    chosen = set(plan.selected_dirs) | plan.fresh_dirs
    for path in reversed(plan.tree):
        meta = plan.tree[path]
        if meta.kind == DIR and path in chosen:
            full = plan.target + b"/" + path if path else plan.target
            os.chmod(full, meta.mode)
            os.utime(full, ns=(meta.mtime_ns, meta.mtime_ns))


def check_restore_folder(target: Path, store: Store, source: Path | None, force: bool) -> None:
    """--to DIR: a new or empty folder, outside the store and not the live source itself."""
    real = os.path.realpath(target)
    dest = os.path.realpath(store.dest)
    if real == dest or real.startswith(dest.rstrip("/") + "/"):
        raise UsageError(f"cannot restore into the snapshot folder {store.dest}")
    if dest.startswith(real.rstrip("/") + "/"):
        raise UsageError(
            f"{target} holds the snapshot folder {store.dest}; choose a folder outside it"
        )
    if source is not None and real == os.path.realpath(source):
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
