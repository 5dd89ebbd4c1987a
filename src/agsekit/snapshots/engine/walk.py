"""Walk a tree through directory descriptors: what a snapshot of it would hold.

Every folder is opened relative to its parent with O_NOFOLLOW and checked to be the very
folder the listing showed, so a folder swapped for a symlink mid-walk is never followed
(it is reported as changed and taken at the next run). Symlinks are recorded as links.
Sockets, FIFOs and devices are skipped and reported. Excluded folders (ignore rules, or
the snapshot store itself when it lies inside the source) are not entered; folders deeper
than MAX_DEPTH are not entered either (reported), so no tree can exhaust descriptors.

`.backupignore` files are read only when they are regular files of at most
IGNORE_FILE_CAP bytes, opened without blocking (as git ignores a symlinked .gitignore).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from agsekit.core.display import show_path
from agsekit.snapshots.engine.tree import DIR, FILE, LINK, Meta, Tree, ancestors
from agsekit.snapshots.ignore import MAX_FILE_BYTES, IgnoreRules, Rule
from agsekit.tools import root as fs

IGNORE_FILE = b".backupignore"
IGNORE_FILE_CAP = MAX_FILE_BYTES
EXPLAINED = 10  # excluded entries whose deciding rule the walk records, for messages
MAX_DEPTH = 256
_PERM = 0o7777


@dataclass(frozen=True)
class RuleSource:
    """Where the ignore rules come from.

    host: labelled host-side pattern lists (`--exclude`, the config's `exclude:`), anchored
    at the root and winning over every ignore file. read_tree: read `.backupignore` files.
    recorded: instead of reading them, use these contents (folder prefix b"" or
    b"dir/" -> content): the rules a snapshot was taken with."""

    host: tuple[tuple[str, tuple[str, ...]], ...] = ()
    read_tree: bool = True
    recorded: Mapping[bytes, bytes] | None = None

    @property
    def host_patterns(self) -> tuple[str, ...]:
        return tuple(pattern for _label, patterns in self.host for pattern in patterns)


@dataclass
class WalkResult:
    tree: Tree
    specials: list[tuple[bytes, str]] = field(default_factory=list)  # (path, kind) skipped
    unreadable: list[tuple[bytes, str]] = field(default_factory=list)  # (path, reason)
    unreadable_dirs: list[bytes] = field(default_factory=list)  # could not be listed
    changed: list[bytes] = field(default_factory=list)  # swapped or gone while walked
    excluded: list[bytes] = field(default_factory=list)  # left out by rules (tops only)
    excluded_dirs: list[bytes] = field(default_factory=list)
    too_deep: list[bytes] = field(default_factory=list)
    ignore_files: dict[bytes, bytes] = field(default_factory=dict)  # prefix -> as applied
    ignore_problems: list[str] = field(default_factory=list)
    multi_linked: set[bytes] = field(default_factory=set)  # files with st_nlink > 1
    forced_in: list[bytes] = field(default_factory=list)  # kept only because forced
    explained: list[tuple[bytes, Rule | None]] = field(default_factory=list)  # first excluded
    absent_ignored: set[bytes] = field(default_factory=set)  # absent paths the rules hide
    file_count: int = 0
    byte_count: int = 0


@dataclass
class _Frame:
    fd: int
    prefix: bytes  # b"" or b"dir/"
    depth: int
    subdirs: list[tuple[bytes, fs.Identity, IgnoreRules]]


class _Walker:
    def __init__(
        self,
        rules: RuleSource,
        skip: Collection[fs.Identity],
        force: Collection[bytes],
    ) -> None:
        self.rules = rules
        self.skip = skip
        self.force = force
        self.force_dirs = {a for p in force for a in ancestors(p)}
        self.out = WalkResult(tree={})
        self._devs: dict[int, int] = {}
        self.rules_at: dict[bytes, IgnoreRules] = {}

    # -- ignore files --

    def ignore_content(self, fd: int, prefix: bytes) -> bytes | None:
        if self.rules.recorded is not None:
            return self.rules.recorded.get(prefix)
        if not self.rules.read_tree:
            return None
        content = self._read_ignore_file(fd, prefix)
        if content is not None:
            self.out.ignore_files[prefix] = content
        return content

    def _read_ignore_file(self, fd: int, prefix: bytes) -> bytes | None:
        shown = _show(prefix + IGNORE_FILE)
        try:
            return fs.read_regular(fd, IGNORE_FILE, IGNORE_FILE_CAP)
        except FileNotFoundError:
            return None
        except fs.NotRegular as exc:
            if exc.kind != "a folder":
                self.out.ignore_problems.append(f"{shown} is {exc.kind}, not a file: not applied")
        except fs.TooLarge:
            self.out.ignore_problems.append(
                f"{shown} is larger than {IGNORE_FILE_CAP} bytes: not applied"
            )
        except OSError as exc:
            self.out.unreadable.append((prefix + IGNORE_FILE, exc.strerror or str(exc)))
        return None

    def root_rules(self, fd: int) -> IgnoreRules:
        return IgnoreRules.root(
            (),
            self.ignore_content(fd, b""),
            host_patterns=self.rules.host,
            origin=IGNORE_FILE.decode(),
            problems=self.out.ignore_problems,
        )

    # -- entries --

    def meta(self, kind: str, st: os.stat_result, target: bytes | None = None) -> Meta:
        dev = self._devs.setdefault(st.st_dev, st.st_dev)
        if kind == DIR:
            return Meta(
                DIR, st.st_mode & _PERM, 0, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, None, dev=dev
            )
        if kind == LINK:
            return Meta(LINK, 0, 0, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, target, dev=dev)
        return Meta(
            FILE,
            st.st_mode & _PERM,
            st.st_size,
            st.st_mtime_ns,
            st.st_ctime_ns,
            st.st_ino,
            None,
            blocks=st.st_blocks,
            dev=dev,
        )

    def excluded(self, rules: IgnoreRules, path: bytes, name: bytes, is_dir: bool) -> bool:
        if rules.empty or not rules.excluded(name, is_dir):
            return False
        if path in self.force or path in self.force_dirs:
            self.out.forced_in.append(path)
            return False
        if len(self.out.explained) < EXPLAINED:
            self.out.explained.append((path, rules.explain(name, is_dir)))
        return True

    def scan(self, fd: int, prefix: bytes, depth: int, rules: IgnoreRules) -> _Frame:
        """Record the entries of one open folder; its subfolders are walked later."""
        out = self.out
        frame = _Frame(fd, prefix, depth, [])
        self.rules_at[prefix] = rules
        try:
            names = sorted(os.fsencode(name) for name in os.listdir(fd))
        except OSError as exc:
            out.unreadable.append((prefix.rstrip(b"/") or b".", exc.strerror or str(exc)))
            out.unreadable_dirs.append(prefix.rstrip(b"/"))
            return frame
        for name in names:
            self._record(fd, prefix, name, rules, frame)
        frame.subdirs.reverse()  # popped from the end: ascending order
        return frame

    def _record(
        self, fd: int, prefix: bytes, name: bytes, rules: IgnoreRules, frame: _Frame
    ) -> None:
        out = self.out
        path = prefix + name
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return  # vanished since the listing: a live project changes under us
        except OSError as exc:
            out.unreadable.append((path, exc.strerror or str(exc)))
            return
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            if self.excluded(rules, path, name, True):
                out.excluded.append(path)
                out.excluded_dirs.append(path)
            elif fs.identity(st) not in self.skip:
                out.tree[path] = self.meta(DIR, st)
                frame.subdirs.append((name, fs.identity(st), rules))
        elif self.excluded(rules, path, name, False):
            out.excluded.append(path)
        elif stat.S_ISREG(mode):
            out.tree[path] = self.meta(FILE, st)
            out.file_count += 1
            out.byte_count += st.st_size
            if st.st_nlink > 1:
                out.multi_linked.add(path)
        elif stat.S_ISLNK(mode):
            try:
                target = os.readlink(name, dir_fd=fd)
            except OSError:
                out.changed.append(path)
                return
            out.tree[path] = self.meta(LINK, st, os.fsencode(target))
        else:
            out.specials.append((path, fs.kind_name(mode)))

    def descend(self, frame: _Frame) -> _Frame | None:
        """Open and scan the next subfolder of frame (None when it could not be opened)."""
        name, ident, rules = frame.subdirs.pop()
        path = frame.prefix + name
        if frame.depth + 1 > MAX_DEPTH:
            self.out.too_deep.append(path)
            return None
        try:
            fd = fs.open_dir_at(frame.fd, name, ident)
        except fs.TreeChanged:
            self._drop(path)
            self.out.changed.append(path)
            return None
        except FileNotFoundError:
            self._drop(path)
            return None
        except OSError as exc:
            self.out.unreadable.append((path, exc.strerror or str(exc)))
            self.out.unreadable_dirs.append(path)
            return None
        prefix = path + b"/"
        below = rules.child(
            name,
            self.ignore_content(fd, prefix),
            origin=(prefix + IGNORE_FILE).decode("utf-8", "surrogateescape"),
            problems=self.out.ignore_problems,
        )
        return self.scan(fd, prefix, frame.depth + 1, below)

    def hides(self, path: bytes, is_dir: bool) -> bool:
        """Whether the rules would leave out `path` if it existed (its folders on the way
        that do not exist are taken as folders without an ignore file)."""
        parts = path.split(b"/")
        depth = len(parts) - 1
        while depth > 0 and b"/".join(parts[:depth]) + b"/" not in self.rules_at:
            depth -= 1
        prefix = b"/".join(parts[:depth]) + b"/" if depth else b""
        rules = self.rules_at.get(prefix)
        if rules is None:
            return False
        for index in range(depth, len(parts)):
            last = index == len(parts) - 1
            if rules.excluded(parts[index], is_dir or not last):
                return True
            if not last:
                rules = rules.child(parts[index], None)
        return False

    def _drop(self, path: bytes) -> None:
        self.out.tree.pop(path, None)


def walk_tree(
    rootfd: int,
    rules: RuleSource,
    *,
    skip: Collection[fs.Identity] = (),
    force: Collection[bytes] = (),
    absent: Collection[tuple[bytes, bool]] = (),
) -> WalkResult:
    """Walk the open folder rootfd. `skip` holds identities of folders never to enter
    (the store); `force` paths are kept whatever the rules say (what a restore will
    change must be in its safety snapshot); `absent` (path, is_dir) pairs that do not
    exist are checked against the rules (absent_ignored: those the rules would hide)."""
    walker = _Walker(rules, skip, force)
    st = os.fstat(rootfd)
    walker.out.tree[b""] = walker.meta(DIR, st)
    first = walker.scan(os.dup(rootfd), b"", 0, walker.root_rules(rootfd))
    frames = [first]
    try:
        while frames:
            frame = frames[-1]
            if not frame.subdirs:
                os.close(frame.fd)
                frames.pop()
                continue
            child = walker.descend(frame)
            if child is not None:
                frames.append(child)
    finally:
        for frame in frames:
            os.close(frame.fd)
    walker.out.absent_ignored = {p for p, is_dir in absent if walker.hides(p, is_dir)}
    return walker.out


def walk_path(
    path: bytes | str,
    rules: RuleSource,
    *,
    skip: Collection[fs.Identity] = (),
    force: Collection[bytes] = (),
    real: bool = False,
) -> WalkResult:
    """Walk the tree at path. real: path was resolved (and checked) already, so no
    symlink is followed on the way to it either: a folder swapped for a link since is
    TreeChanged, never the link's target."""
    rootfd = fs.open_real(os.fsencode(path)) if real else fs.open_root(path)
    try:
        return walk_tree(rootfd, rules, skip=skip, force=force)
    finally:
        os.close(rootfd)


def walk_snapshot(path: bytes | str) -> Tree:
    """Read a complete snapshot back as a Tree (used when its manifest is missing or
    damaged). store_ino records each file's inode in the snapshot."""
    result = walk_path(path, RuleSource(read_tree=False))
    return {
        p: m._replace(ctime_ns=0, ino=0, store_ino=m.ino if m.kind == FILE else 0, dev=0)
        for p, m in result.tree.items()
    }


def _show(path: bytes) -> str:
    return show_path(path)
