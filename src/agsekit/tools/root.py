"""Race-safe access to a tree that someone else (a hostile agent) may change while we work.

Every operation here is relative to a directory descriptor and follows no symlink: a path
is opened one component at a time with O_NOFOLLOW | O_DIRECTORY, and what is opened is
compared by (st_dev, st_ino) with what a walk saw. The model is Go's `os.Root`: nothing
done through these functions can reach outside the directory it starts from, whatever the
tree's entries turn into between two calls.

Files are opened only when they are regular files, with O_NONBLOCK (a FIFO never blocks
the open), and reads are capped. Paths are bytes relative to the root, components joined
by b"/"; b"", b".", b".." and NUL are never valid components.

The walk, the copy, restore, diff and history reach a live project or a snapshot only
through it: they get verified folder descriptors here, and where they create, rename or
remove an entry themselves (the copy's and restore's temporary files), they do it with
dir_fd= on such a descriptor, the name a single checked component, never a path.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_O_PATH = getattr(os, "O_PATH", 0)

Identity = tuple[int, int]  # (st_dev, st_ino)

CHUNK = 1 << 20
BLOCK = 1 << 16  # the unit in which runs of zeros are recognised for the digest
_ZERO_BLOCK = bytes(BLOCK)
PAGE = 4096  # the unit in which a copy leaves zeros inside a data block as holes
_ZERO_PAGE = bytes(PAGE)
DIGEST_BYTES = 16  # of sha256: 128 bits, far beyond what an agent could collide


class TreeChanged(OSError):
    """An entry is no longer what the walk saw (swapped, replaced, turned into a link)."""

    def __init__(self, path: bytes, what: str) -> None:
        super().__init__(errno.ESTALE, what, os.fsdecode(path))
        self.path = path
        self.what = what


class NotRegular(OSError):
    """agsekit opens only regular files."""

    def __init__(self, path: bytes, kind: str) -> None:
        super().__init__(errno.EINVAL, f"not a regular file but {kind}", os.fsdecode(path))
        self.kind = kind


class TooLarge(OSError):
    def __init__(self, path: bytes, cap: int) -> None:
        super().__init__(errno.EFBIG, f"larger than {cap} bytes", os.fsdecode(path))


def identity(st: os.stat_result) -> Identity:
    return (st.st_dev, st.st_ino)


def kind_name(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISLNK(mode):
        return "a symlink"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a file" if stat.S_ISREG(mode) else "something else"


# ----- names ----------------------------------------------------------------------------


def valid_name(name: bytes) -> bool:
    return bool(name) and name not in (b".", b"..") and b"/" not in name and b"\0" not in name


def components(rel: bytes) -> list[bytes]:
    """The components of a relative path; ValueError for anything that could leave the
    root (absolute, `..`, `.`, empty components, NUL)."""
    if rel == b"":
        return []
    parts = rel.split(b"/")
    if not all(valid_name(part) for part in parts):
        raise ValueError(f"not a safe relative path: {rel!r}")
    return parts


def parent_and_name(rel: bytes) -> tuple[bytes, bytes]:
    parent, _, name = rel.rpartition(b"/")
    return parent, name


# ----- opening ----------------------------------------------------------------------------


def open_root(path: bytes | str | os.PathLike[str]) -> int:
    """Open the top of a tree. The path itself is the user's choice, so it may go through
    symlinks; everything below it is opened without following any."""
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def open_real(path: bytes) -> int:
    """Open a folder by an absolute path whose symlinks were resolved already
    (os.path.realpath), following none on the way: a component that has become a symlink
    since (the folder of a mount inside another mount's source, swapped by an agent) is
    TreeChanged, never followed."""
    if not path.startswith(b"/"):
        raise ValueError(f"not an absolute path: {path!r}")
    parts = [part for part in path.split(b"/") if part]
    search = (_O_PATH or os.O_RDONLY) | DIR_FLAGS  # passing through needs no read access
    fd = os.open(b"/", search if parts else DIR_FLAGS)
    try:
        for index, part in enumerate(parts):
            flags = DIR_FLAGS if index == len(parts) - 1 else search
            try:
                nxt = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise TreeChanged(path, "is no longer the folder it was") from None
                raise
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_dir_at(dirfd: int, name: bytes, expect: Identity | None = None) -> int:
    """Open the subfolder `name` of dirfd, never through a symlink; TreeChanged when it is
    not the folder the walk saw."""
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=dirfd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise TreeChanged(name, "is no longer a folder") from None
        raise
    if expect is not None:
        st = os.fstat(fd)
        if identity(st) != expect:
            os.close(fd)
            raise TreeChanged(name, "was replaced by another folder")
    return fd


def open_dir_path(
    rootfd: int, rel: bytes, expect: Callable[[bytes], Identity | None] | None = None
) -> int:
    """Open the folder at rel below rootfd, one component at a time. `expect(path)` gives
    the identity each folder on the way must have (None: not checked)."""
    fd = os.dup(rootfd)
    done = b""
    try:
        for part in components(rel):
            done = done + b"/" + part if done else part
            want = expect(done) if expect is not None else None
            nxt = open_dir_at(fd, part, want)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_regular(
    dirfd: int, name: bytes, expect: Identity | None = None
) -> tuple[int, os.stat_result]:
    """Open a regular file for reading without blocking and without following a symlink."""
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dirfd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotRegular(name, "a symlink") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegular(name, kind_name(st.st_mode))
        if expect is not None and identity(st) != expect:
            raise TreeChanged(name, "was replaced by another file")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def lstat_at(dirfd: int, name: bytes) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def link_target_at(dirfd: int, name: bytes, expect: Identity) -> bytes | None:
    """The target of the symlink `name` of dirfd while it is the link `expect` names, else
    None. A symlink's target never changes, so the same identity before and after the
    read vouches for what was read."""
    before = lstat_at(dirfd, name)
    if before is None or not stat.S_ISLNK(before.st_mode) or identity(before) != expect:
        return None
    try:
        target = os.readlink(name, dir_fd=dirfd)
    except OSError:
        return None
    after = lstat_at(dirfd, name)
    return os.fsencode(target) if after is not None and identity(after) == expect else None


def read_capped_fd(fd: int, st: os.stat_result, cap: int) -> bytes:
    """The whole content of an open regular file of at most `cap` bytes."""
    if st.st_size > cap:
        raise TooLarge(b"", cap)
    data = _read_up_to(fd, cap + 1)
    if len(data) > cap:
        raise TooLarge(b"", cap)
    return data


def read_regular(dirfd: int, name: bytes, cap: int) -> bytes:
    """The whole content of a regular file of at most `cap` bytes (TooLarge otherwise)."""
    fd, st = open_regular(dirfd, name)
    try:
        if st.st_size > cap:
            raise TooLarge(name, cap)
        data = _read_up_to(fd, cap + 1)
    finally:
        os.close(fd)
    if len(data) > cap:
        raise TooLarge(name, cap)
    return data


def _read_up_to(fd: int, limit: int) -> bytes:
    parts = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


@contextmanager
def opened(fd: int) -> Iterator[int]:
    try:
        yield fd
    finally:
        os.close(fd)


# ----- content ------------------------------------------------------------------------------


def data_ranges(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) of the parts of a file that hold data; holes are skipped (a sparse
    file of 16 TiB costs nothing to read)."""
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole from here to the end
                return
            if exc.errno in (errno.EINVAL, errno.EOPNOTSUPP):  # no hole support
                yield offset, size
                return
            raise
        if start >= size:
            return
        try:
            end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        except OSError:
            end = size
        yield start, end
        offset = end


class _Digest:
    """A digest of a file's logical content that treats runs of zero blocks (holes or
    written zeros alike) as counts, so that its cost follows the data, not the size."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256(b"agsekit-digest-1\0")
        self._zeros = 0

    def zeros(self, count: int) -> None:
        self._zeros += count

    def data(self, block: memoryview) -> None:
        if self._zeros:
            self._hash.update(b"Z" + self._zeros.to_bytes(8, "big"))
            self._zeros = 0
        self._hash.update(b"D" + len(block).to_bytes(4, "big"))
        self._hash.update(block)

    def finish(self, size: int) -> bytes:
        if self._zeros:
            self._hash.update(b"Z" + self._zeros.to_bytes(8, "big"))
        self._hash.update(b"E" + size.to_bytes(8, "big"))
        return self._hash.digest()[:DIGEST_BYTES]


@dataclass(frozen=True)
class CopyResult:
    digest: bytes
    data_bytes: int  # bytes written (holes and zero blocks are not)
    size: int  # the logical size copied
    changed: bool  # the source changed while it was read (size or times differ after)


def _blocks(fd: int, size: int, buffer: bytearray) -> Iterator[tuple[int, memoryview | None, int]]:
    """(offset, data or None for zeros, length) in BLOCK units aligned to BLOCK, covering
    0..size; a block wholly inside a hole is None without being read. Reads are at most
    min(CHUNK, size) bytes, so the buffer needs no more: a buffer sized to the file costs
    a small file nothing, where a fresh 1 MiB one costs tens of microseconds (an mmap, its
    page faults and an munmap each time).

    A file of at most one BLOCK is read whole without asking where its holes are: its one
    block is told zero or data by its bytes either way, and the two lseek calls would be
    most of the cost of a small file."""
    view = memoryview(buffer)
    position = 0
    ranges = ((0, size),) if size <= BLOCK else data_ranges(fd, size)
    for start, end in ranges:
        first = start - start % BLOCK
        if first > position:
            yield position, None, first - position
            position = first
        while position < end:
            length = min(CHUNK, size - position)
            got = os.preadv(fd, [view[:length]], position)
            if got <= 0:
                return
            for at in range(0, got, BLOCK):
                piece = view[at : min(at + BLOCK, got)]
                is_zero = len(piece) == BLOCK and piece == _ZERO_BLOCK
                if not is_zero and len(piece) < BLOCK:
                    is_zero = not any(piece)
                yield position + at, None if is_zero else piece, len(piece)
            position += got
            if got < length:
                return
    if position < size:
        yield position, None, size - position


def digest_fd(fd: int, size: int) -> bytes:
    """The content digest of the first `size` bytes of an open regular file."""
    digest = _Digest()
    buffer = bytearray(min(CHUNK, size))  # see _blocks
    done = 0
    for _offset, block, length in _blocks(fd, size, buffer):
        if block is None:
            digest.zeros(length)
        else:
            digest.data(block)
        done += length
    return digest.finish(done)


def copy_fd(src: int, dst: int, size: int, before: os.stat_result) -> CopyResult:
    """Copy the first `size` bytes of src into the empty file dst, keeping holes (and
    turning zero pages into holes: a block holding one page of data costs one page, not a
    block), and compute the content digest on the way. Never
    reads more than `size`: a file that grows while it is copied is cut there, and the
    change is reported."""
    digest = _Digest()
    buffer = bytearray(min(CHUNK, size))  # see _blocks
    written = 0
    done = 0
    data_end = 0  # dst's size so far: the end of the last block written
    for offset, block, length in _blocks(src, size, buffer):
        if block is None:
            digest.zeros(length)
        else:
            digest.data(block)
            count, end = _write_data(dst, block, offset)
            written += count
            data_end = max(data_end, end)
        done += length
    if done != data_end:  # a hole or zeros at the end: extend dst to its size
        os.ftruncate(dst, done)
    after = os.fstat(src)
    changed = done != size or (after.st_size, after.st_mtime_ns, after.st_ctime_ns) != (
        before.st_size,
        before.st_mtime_ns,
        before.st_ctime_ns,
    )
    return CopyResult(digest.finish(done), written, done, changed)


def _write_data(fd: int, block: memoryview, offset: int) -> tuple[int, int]:
    """Write the pages of block that are not all zeros (runs of them at once); returns
    the bytes written and where the last of them ends in the file (0: none)."""
    written = end = 0
    run_start: int | None = None
    for at in range(0, len(block) + PAGE, PAGE):
        page = block[at : at + PAGE]
        data = bool(page) and (page != _ZERO_PAGE if len(page) == PAGE else any(page))
        if data and run_start is None:
            run_start = at
        elif not data and run_start is not None:
            stop = min(at, len(block))
            _pwrite_all(fd, block[run_start:stop], offset + run_start)
            written += stop - run_start
            end = offset + stop
            run_start = None
    return written, end


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        count = os.pwrite(fd, data, offset)
        data = data[count:]
        offset += count


def set_file_attributes(fd: int, mode: int, mtime_ns: int) -> None:
    os.fchmod(fd, mode)
    os.utime(fd, ns=(mtime_ns, mtime_ns))


# ----- changing entries ---------------------------------------------------------------------


def chmod_at(dirfd: int, name: bytes, mode: int) -> None:
    """chmod an entry that is not a symlink, without following one if it became one."""
    try:
        os.chmod(name, mode, dir_fd=dirfd, follow_symlinks=False)
        return
    except (NotImplementedError, ValueError):
        pass  # no fchmodat(AT_SYMLINK_NOFOLLOW) here, or the entry is a symlink
    except OSError as exc:
        if exc.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    if not _O_PATH:
        raise OSError(errno.ENOTSUP, "cannot change modes safely here", os.fsdecode(name))
    fd = os.open(name, _O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)
    try:
        if stat.S_ISLNK(os.fstat(fd).st_mode):
            raise TreeChanged(name, "turned into a symlink")
        os.chmod(f"/proc/self/fd/{fd}", mode)
    finally:
        os.close(fd)


def remove_entry_at(dirfd: int, name: bytes, expect: Identity) -> bool:
    """Remove the file, symlink or empty folder `name` of dirfd only while it is the entry
    `expect` names; False when it is gone. TreeChanged when it is another entry, also when
    it is swapped for another kind between the check and the removal (unlink then meets a
    folder, rmdir a file or a symlink)."""
    st = lstat_at(dirfd, name)
    if st is None:
        return False
    if identity(st) != expect:
        raise TreeChanged(name, "was replaced")
    try:
        if stat.S_ISDIR(st.st_mode):
            os.rmdir(name, dir_fd=dirfd)
        else:
            os.unlink(name, dir_fd=dirfd)
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno in (errno.EISDIR, errno.ENOTDIR):
            raise TreeChanged(name, "was replaced") from None
        raise
    return True


def make_owner_usable(dirfd: int, name: bytes, st: os.stat_result) -> int | None:
    """Give the owner rwx on the folder `name` (we must read and write inside it); returns
    the mode it had when that changed it, else None."""
    mode = stat.S_IMODE(st.st_mode)
    if mode & stat.S_IRWXU == stat.S_IRWXU:
        return None
    chmod_at(dirfd, name, mode | stat.S_IRWXU)
    return mode


def remove_tree_at(dirfd: int, name: bytes, *, max_open: int = 64) -> None:
    """Remove the entry `name` of dirfd and, if it is a folder, everything below it,
    whatever its depth or path length, without following symlinks. Folders without write
    or search permission for their owner are made usable first (only folders are ever
    chmod-ed: files may be hard links shared with other snapshots).

    Depth costs at most `max_open` descriptors: a folder deeper than that is first moved
    up next to `name` (a rename inside one file system) and removed from there."""
    st = lstat_at(dirfd, name)
    if st is None:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dirfd)
        return
    queue = [name]
    while queue:
        queue.extend(_remove_folder(dirfd, queue.pop(), max_open, name))


def _remove_folder(basefd: int, top: bytes, max_open: int, stem: bytes) -> list[bytes]:
    """Delete the folder `top` of basefd depth first; folders met at depth `max_open` are
    moved into basefd instead, and their new names returned for the caller to remove."""
    st = lstat_at(basefd, top)
    if st is None:
        return []
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(top, dir_fd=basefd)
        return []
    make_owner_usable(basefd, top, st)
    first = open_dir_at(basefd, top, identity(st))
    stack: list[tuple[int, list[bytes], bytes]] = [(first, _names(first), top)]
    hoisted: list[bytes] = []
    try:
        while stack:
            fd, names, own = stack[-1]
            if not names:
                stack.pop()
                os.close(fd)
                os.rmdir(own, dir_fd=stack[-1][0] if stack else basefd)
                continue
            child = names.pop()
            child_st = lstat_at(fd, child)
            if child_st is None:
                continue
            if not stat.S_ISDIR(child_st.st_mode):
                os.unlink(child, dir_fd=fd)
            elif len(stack) >= max_open:
                moved = stem + b".deep-" + os.urandom(6).hex().encode()
                os.rename(child, moved, src_dir_fd=fd, dst_dir_fd=basefd)
                hoisted.append(moved)
            else:
                make_owner_usable(fd, child, child_st)
                child_fd = open_dir_at(fd, child, identity(child_st))
                stack.append((child_fd, _names(child_fd), child))
    finally:
        for fd, _names_left, _own in stack:
            os.close(fd)
    return hoisted


def _names(fd: int) -> list[bytes]:
    return [os.fsencode(n) for n in os.listdir(fd)]


class DirCursor:
    """Open folders below a root, for work that visits paths in tree order (a folder
    before what it holds): the folders on the way to the current one stay open, so each
    step opens at most the components that differ. `expect(path)` gives the identity a
    folder must have (None: not checked)."""

    def __init__(
        self, rootfd: int, expect: Callable[[bytes], Identity | None] | None = None
    ) -> None:
        self._expect = expect
        self._stack: list[tuple[bytes, int]] = [(b"", os.dup(rootfd))]

    def fd(self, rel_dir: bytes) -> int:
        stack = self._stack
        if stack[-1][0] == rel_dir:  # most calls: the folder of the previous entry
            return stack[-1][1]
        while len(stack) > 1 and not _is_within(rel_dir, stack[-1][0]):
            os.close(stack.pop()[1])
        top, fd = stack[-1]
        rest = rel_dir[len(top) + 1 :] if top else rel_dir
        for part in components(rest):
            top = top + b"/" + part if top else part
            fd = open_dir_at(fd, part, self._expect(top) if self._expect else None)
            stack.append((top, fd))
        return fd

    def parent_of(self, rel: bytes) -> tuple[int, bytes]:
        """(descriptor of rel's folder, rel's last component)."""
        parent, name = parent_and_name(rel)
        return self.fd(parent), name

    def close(self) -> None:
        while self._stack:
            os.close(self._stack.pop()[1])

    def __enter__(self) -> DirCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_within(path: bytes, folder: bytes) -> bool:
    return not folder or path == folder or path.startswith(folder + b"/")
