"""The host side of a classic (sshfs) mount: an SFTP v3 server with Multipass' rules.

Facts from Multipass 1.16 (src/sshfs_mount/sftp_server.cpp, sshfs_mount.cpp): the guest
runs `sudo sshfs -o slave -o transform_symlinks -o allow_other ... :SOURCE TARGET`, so the
guest kernel checks nobody (allow_other, no default_permissions: every guest user gets
through) and the server, running as root on the host, decides alone. It does not know which
guest user asks. Its only check is that the host owner uid AND gid of the file (of the
parent folder when creating) appear on the host side of the mount's --uid-map/--gid-map
lists; mode bits are never looked at. Owners are shown mapped host -> instance, unmapped
ones as -1 (nobody in the guest). New files and folders get the parent's host owner. Paths
that resolve outside SOURCE are refused. Mappings are one-to-one (the daemon refuses
duplicates), so a host id can stand for one guest id only.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT = -1  # "default" on the instance side: the instance's default user or group
NO_ID = -2  # no owner information on the host (Windows)

INIT, VERSION = 1, 2
OPEN, CLOSE, READ, WRITE, LSTAT, FSTAT, SETSTAT, FSETSTAT = 3, 4, 5, 6, 7, 8, 9, 10
OPENDIR, READDIR, REMOVE, MKDIR, RMDIR, REALPATH, STAT = 11, 12, 13, 14, 15, 16, 17
RENAME, READLINK, SYMLINK, EXTENDED = 18, 19, 20, 200
STATUS, HANDLE, DATA, NAME, ATTRS = 101, 102, 103, 104, 105

FX_OK, FX_EOF, FX_NO_SUCH_FILE, FX_PERMISSION_DENIED, FX_FAILURE = 0, 1, 2, 3, 4
FX_BAD_MESSAGE, FX_OP_UNSUPPORTED = 5, 8

A_SIZE, A_UIDGID, A_PERMISSIONS, A_ACMODTIME, A_EXTENDED = 1, 2, 4, 8, 0x80000000
F_READ, F_WRITE, F_APPEND, F_CREAT, F_TRUNC, F_EXCL = 1, 2, 4, 8, 0x10, 0x20

# the request types whose path is resolved through a final symlink
FOLLOWS = {OPEN, OPENDIR, REALPATH, SETSTAT, STAT}

IdMap = list[tuple[int, int]]  # (host id, instance id or DEFAULT)


@dataclass
class Attrs:
    flags: int = 0
    size: int = 0
    uid: int = 0
    gid: int = 0
    mode: int = 0
    atime: int = 0
    mtime: int = 0

    def pack(self) -> bytes:
        out = struct.pack(">I", self.flags)
        if self.flags & A_SIZE:
            out += struct.pack(">Q", self.size)
        if self.flags & A_UIDGID:
            out += struct.pack(">II", self.uid & 0xFFFFFFFF, self.gid & 0xFFFFFFFF)
        if self.flags & A_PERMISSIONS:
            out += struct.pack(">I", self.mode)
        if self.flags & A_ACMODTIME:
            out += struct.pack(">II", self.atime & 0xFFFFFFFF, self.mtime & 0xFFFFFFFF)
        return out


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def u32(self) -> int:
        (value,) = struct.unpack_from(">I", self.data, self.at)
        self.at += 4
        return int(value)

    def u64(self) -> int:
        (value,) = struct.unpack_from(">Q", self.data, self.at)
        self.at += 8
        return int(value)

    def string(self) -> bytes:
        size = self.u32()
        value = self.data[self.at : self.at + size]
        self.at += size
        return value

    def attrs(self) -> Attrs:
        attrs = Attrs(flags=self.u32())
        if attrs.flags & A_SIZE:
            attrs.size = self.u64()
        if attrs.flags & A_UIDGID:
            attrs.uid, attrs.gid = self.u32(), self.u32()
        if attrs.flags & A_PERMISSIONS:
            attrs.mode = self.u32()
        if attrs.flags & A_ACMODTIME:
            attrs.atime, attrs.mtime = self.u32(), self.u32()
        if attrs.flags & A_EXTENDED:
            for _ in range(self.u32()):
                self.string()
                self.string()
        return attrs


def pack_string(value: bytes) -> bytes:
    return struct.pack(">I", len(value)) + value


def mapped_id(maps: IdMap, host_id: int, default: int) -> int:
    if host_id == NO_ID:
        return default
    for host, instance in maps:
        if host == host_id:
            return default if instance == DEFAULT else instance
    return -1


def reverse_id(maps: IdMap, instance_id: int, fallback: int) -> int:
    for host, instance in maps:
        if instance == instance_id:
            return host
    for host, instance in maps:
        if instance == fallback:
            return host
    return fallback


def parse_map(text: str) -> tuple[int, int]:
    host, _, instance = text.partition(":")
    return int(host), DEFAULT if instance == "default" else int(instance)


@dataclass
class Mount:
    source: str
    target: str
    uid_map: IdMap
    gid_map: IdMap
    default_uid: int = 1000
    default_gid: int = 1000


class Failed(Exception):
    def __init__(self, code: int, text: str = "") -> None:
        super().__init__(text)
        self.code = code
        self.text = text


def denied() -> Failed:
    return Failed(FX_PERMISSION_DENIED, "permission denied")


@dataclass
class Handle:
    path: str
    fd: int | None = None
    entries: list[str] = field(default_factory=list)


class SftpServer:
    """One mount's server, talking to the guest's sshfs over a socket."""

    def __init__(self, sock: socket.socket, mount: Mount) -> None:
        self.sock = sock
        self.mount = mount
        self.source = os.path.realpath(mount.source)
        self.handles: dict[bytes, Handle] = {}
        self.next_handle = 0
        self.handlers: dict[int, Callable[[int, Reader], bytes]] = {
            OPEN: self.open,
            CLOSE: self.close,
            READ: self.read,
            WRITE: self.write,
            LSTAT: lambda i, r: self.stat(i, r, follow=False),
            STAT: lambda i, r: self.stat(i, r, follow=True),
            FSTAT: self.fstat,
            SETSTAT: self.setstat,
            FSETSTAT: self.fsetstat,
            OPENDIR: self.opendir,
            READDIR: self.readdir,
            REMOVE: self.remove,
            MKDIR: self.mkdir,
            RMDIR: self.rmdir,
            REALPATH: self.realpath,
            RENAME: self.rename,
            READLINK: self.readlink,
            SYMLINK: self.symlink,
            EXTENDED: self.extended,
        }

    # ----- wire ----------------------------------------------------------------------

    def serve(self) -> None:
        try:
            while (packet := self._packet()) is not None:
                self._dispatch(packet)
        except OSError:
            pass
        finally:
            for handle in self.handles.values():
                if handle.fd is not None:
                    os.close(handle.fd)

    def _packet(self) -> bytes | None:
        head = self._exactly(4)
        if head is None:
            return None
        return self._exactly(struct.unpack(">I", head)[0])

    def _exactly(self, size: int) -> bytes | None:
        chunks = b""
        while len(chunks) < size:
            chunk = self.sock.recv(size - len(chunks))
            if not chunk:
                return None
            chunks += chunk
        return chunks

    def _send(self, kind: int, body: bytes) -> None:
        payload = bytes([kind]) + body
        self.sock.sendall(struct.pack(">I", len(payload)) + payload)

    def _dispatch(self, packet: bytes) -> None:
        kind, reader = packet[0], Reader(packet[1:])
        if kind == INIT:
            extensions = pack_string(b"posix-rename@openssh.com") + pack_string(b"1")
            extensions += pack_string(b"hardlink@openssh.com") + pack_string(b"1")
            self._send(VERSION, struct.pack(">I", 3) + extensions)
            return
        request_id = reader.u32()
        handler = self.handlers.get(kind)
        try:
            if handler is None:
                raise Failed(FX_OP_UNSUPPORTED, "Unsupported message")
            reply = handler(request_id, reader)
        except Failed as failure:
            reply = self._status(request_id, failure.code, failure.text)
        except OSError:
            reply = self._status(request_id, FX_FAILURE, "")
        self._send(reply[0], reply[1:])

    def _status(self, request_id: int, code: int, text: str = "") -> bytes:
        body = struct.pack(">II", request_id, code) + pack_string(text.encode())
        return bytes([STATUS]) + body + pack_string(b"")

    def _ok(self, request_id: int) -> bytes:
        return self._status(request_id, FX_OK)

    # ----- Multipass' rules ------------------------------------------------------------

    def _absolute(self, raw: bytes) -> str:
        path = os.fsdecode(raw)
        return os.path.join(self.source, path) if path and not path.startswith("/") else path

    def _inside(self, path: str, follows: bool) -> bool:
        if not path:
            return False
        if follows:
            check = path
            while check != os.path.dirname(check) and not os.path.exists(check):
                if os.path.islink(check):
                    return False  # a broken symlink could point anywhere on the host
                check = os.path.dirname(check)
            final = os.path.realpath(path)
        else:
            parent = os.path.realpath(os.path.dirname(path) or ".")
            final = os.path.normpath(os.path.join(parent, os.path.basename(path)))
        return final == self.source or final.startswith(self.source.rstrip("/") + "/")

    def _validated(self, raw: bytes, kind: int) -> str:
        path = self._absolute(raw)
        if not self._inside(path, kind in FOLLOWS):
            raise denied()
        return path

    def _mapped(self, path: str) -> bool:
        """has_id_mappings_for: the host owner uid and gid are both on the maps."""
        info = os.stat(path)  # QFileInfo's owner follows symlinks
        return any(h == info.st_uid for h, _ in self.mount.uid_map) and any(
            h == info.st_gid for h, _ in self.mount.gid_map
        )

    def _check(self, path: str) -> None:
        if not self._mapped(path):
            raise denied()

    def _attrs(self, info: os.stat_result, *, link: bool = False) -> Attrs:
        mode = stat.S_IMODE(info.st_mode) | stat.S_IFMT(info.st_mode)
        if link:
            mode = stat.S_IFLNK | 0o777
        return Attrs(
            flags=A_SIZE | A_UIDGID | A_PERMISSIONS | A_ACMODTIME,
            size=info.st_size,
            uid=mapped_id(self.mount.uid_map, info.st_uid, self.mount.default_uid),
            gid=mapped_id(self.mount.gid_map, info.st_gid, self.mount.default_gid),
            mode=mode,
            atime=int(info.st_atime),
            mtime=int(info.st_mtime),
        )

    def _guest_path(self, host_path: str) -> str:
        relative = os.path.relpath(host_path, self.source)
        if relative == "." or relative.startswith(".."):
            return self.mount.target
        return os.path.normpath(os.path.join(self.mount.target, relative))

    def _new_handle(self, handle: Handle) -> bytes:
        self.next_handle += 1
        key = str(self.next_handle).encode()
        self.handles[key] = handle
        return key

    def _handle(self, reader: Reader) -> Handle:
        handle = self.handles.get(reader.string())
        if handle is None:
            raise Failed(FX_BAD_MESSAGE, "invalid handle")
        return handle

    def _give_parent_owner(self, path: str) -> None:
        parent = os.stat(os.path.dirname(path))
        os.lchown(
            path,
            reverse_id(self.mount.uid_map, parent.st_uid, parent.st_uid),
            reverse_id(self.mount.gid_map, parent.st_gid, parent.st_gid),
        )

    # ----- requests ----------------------------------------------------------------------

    def open(self, request_id: int, reader: Reader) -> bytes:
        path = self._validated(reader.string(), OPEN)
        flags = reader.u32()
        attrs = reader.attrs()
        exists = os.path.islink(path) or os.path.isfile(path)
        if not self._mapped(path if exists else os.path.dirname(path)):
            raise denied()
        mode = os.O_RDONLY
        if flags & F_WRITE:
            mode = os.O_RDWR if flags & F_READ else os.O_WRONLY
        for bit, flag in ((F_APPEND, os.O_APPEND), (F_TRUNC, os.O_TRUNC)):
            mode |= flag if flags & bit else 0
        for bit, flag in ((F_CREAT, os.O_CREAT), (F_EXCL, os.O_EXCL)):
            mode |= flag if flags & bit else 0
        perms = attrs.mode & 0o7777 if attrs.flags & A_PERMISSIONS else 0
        try:
            fd = os.open(path, mode, perms)
        except OSError:
            raise Failed(FX_FAILURE) from None
        if not exists:
            self._give_parent_owner(path)
        key = self._new_handle(Handle(path, fd=fd))
        return bytes([HANDLE]) + struct.pack(">I", request_id) + pack_string(key)

    def close(self, request_id: int, reader: Reader) -> bytes:
        key = reader.string()
        handle = self.handles.pop(key, None)
        if handle is None:
            raise Failed(FX_BAD_MESSAGE, "close: invalid handle")
        if handle.fd is not None:
            os.close(handle.fd)
        return self._ok(request_id)

    def read(self, request_id: int, reader: Reader) -> bytes:
        handle = self._handle(reader)
        offset, size = reader.u64(), reader.u32()
        if handle.fd is None:
            raise Failed(FX_BAD_MESSAGE, "read: invalid handle")
        data = os.pread(handle.fd, min(size, 65536), offset)
        if not data:
            return self._status(request_id, FX_EOF, "End of file")
        return bytes([DATA]) + struct.pack(">I", request_id) + pack_string(data)

    def write(self, request_id: int, reader: Reader) -> bytes:
        handle = self._handle(reader)
        offset, data = reader.u64(), reader.string()
        if handle.fd is None:
            raise Failed(FX_BAD_MESSAGE, "write: invalid handle")
        while data:
            written = os.pwrite(handle.fd, data, offset)
            data, offset = data[written:], offset + written
        return self._ok(request_id)

    def stat(self, request_id: int, reader: Reader, *, follow: bool) -> bytes:
        path = self._validated(reader.string(), STAT if follow else LSTAT)
        if not os.path.islink(path) and not os.path.exists(path):
            raise Failed(FX_NO_SUCH_FILE, "no such file")
        if not follow and os.path.islink(path):
            attrs = self._attrs(os.lstat(path), link=True)
        else:
            attrs = self._attrs(os.stat(path))
        return bytes([ATTRS]) + struct.pack(">I", request_id) + attrs.pack()

    def fstat(self, request_id: int, reader: Reader) -> bytes:
        handle = self._handle(reader)
        if handle.fd is None:
            raise Failed(FX_BAD_MESSAGE, "fstat: invalid handle")
        attrs = self._attrs(os.fstat(handle.fd))
        return bytes([ATTRS]) + struct.pack(">I", request_id) + attrs.pack()

    def setstat(self, request_id: int, reader: Reader) -> bytes:
        path = self._validated(reader.string(), SETSTAT)
        if not os.path.islink(path) and not os.path.exists(path):
            raise Failed(FX_NO_SUCH_FILE, "no such file")
        return self._apply(request_id, path, reader.attrs())

    def fsetstat(self, request_id: int, reader: Reader) -> bytes:
        handle = self._handle(reader)
        return self._apply(request_id, handle.path, reader.attrs())

    def _apply(self, request_id: int, path: str, attrs: Attrs) -> bytes:
        self._check(path)
        if attrs.flags & A_SIZE:
            os.truncate(path, attrs.size)
        if attrs.flags & A_PERMISSIONS:
            os.chmod(path, attrs.mode & 0o7777)
        if attrs.flags & A_ACMODTIME:
            os.utime(path, (attrs.atime, attrs.mtime))
        if attrs.flags & A_UIDGID:
            uids, gids = self.mount.uid_map, self.mount.gid_map
            if not any(i == attrs.uid for _, i in uids) and not any(
                i == attrs.gid for _, i in gids
            ):
                raise denied()
            os.chown(
                path, reverse_id(uids, attrs.uid, attrs.uid), reverse_id(gids, attrs.gid, attrs.gid)
            )
        return self._ok(request_id)

    def opendir(self, request_id: int, reader: Reader) -> bytes:
        path = self._validated(reader.string(), OPENDIR)
        try:
            names = sorted(os.listdir(path))
        except FileNotFoundError:
            raise Failed(FX_NO_SUCH_FILE, "no such directory") from None
        except NotADirectoryError:
            raise Failed(FX_FAILURE) from None
        self._check(path)
        entries = [".", "..", *names] if names else []
        key = self._new_handle(Handle(path, entries=entries))
        return bytes([HANDLE]) + struct.pack(">I", request_id) + pack_string(key)

    def readdir(self, request_id: int, reader: Reader) -> bytes:
        handle = self._handle(reader)
        if not handle.entries:
            return self._status(request_id, FX_EOF)
        batch, handle.entries = handle.entries[:50], handle.entries[50:]
        body = b""
        for name in batch:
            path = os.path.join(handle.path, name)
            try:
                info = os.lstat(path)
                attrs = self._attrs(
                    info if stat.S_ISLNK(info.st_mode) else os.stat(path),
                    link=stat.S_ISLNK(info.st_mode),
                )
            except OSError:
                return self._status(request_id, FX_FAILURE)
            raw = os.fsencode(name)
            body += pack_string(raw) + pack_string(raw) + attrs.pack()
        return bytes([NAME]) + struct.pack(">II", request_id, len(batch)) + body

    def remove(self, request_id: int, reader: Reader) -> bytes:
        path = self._validated(reader.string(), REMOVE)
        if os.path.exists(path):
            self._check(path)
        try:
            os.unlink(path)
        except OSError:
            raise Failed(FX_FAILURE) from None
        return self._ok(request_id)

    def mkdir(self, request_id: int, reader: Reader) -> bytes:
        path = self._validated(reader.string(), MKDIR)
        attrs = reader.attrs()
        self._check(os.path.dirname(path))
        try:
            os.mkdir(path)
        except OSError:
            raise Failed(FX_FAILURE) from None
        os.chmod(path, attrs.mode & 0o7777 if attrs.flags & A_PERMISSIONS else 0o755)
        self._give_parent_owner(path)
        return self._ok(request_id)

    def rmdir(self, request_id: int, reader: Reader) -> bytes:
        path = self._validated(reader.string(), RMDIR)
        if os.path.exists(path):
            self._check(path)
        try:
            os.rmdir(path)
        except OSError:
            raise Failed(FX_FAILURE) from None
        return self._ok(request_id)

    def realpath(self, request_id: int, reader: Reader) -> bytes:
        path = self._validated(reader.string(), REALPATH)
        self._check(path)
        name = self._guest_path(path).encode()
        body = pack_string(name) + pack_string(name) + Attrs().pack()
        return bytes([NAME]) + struct.pack(">II", request_id, 1) + body

    def rename(self, request_id: int, reader: Reader) -> bytes:
        source = self._validated(reader.string(), RENAME)
        if not os.path.islink(source) and not os.path.exists(source):
            raise Failed(FX_NO_SUCH_FILE, "no such file")
        self._check(source)
        target = self._absolute(reader.string())
        if not self._inside(target, False):
            raise denied()
        if os.path.exists(target):
            self._check(target)
            os.unlink(target) if not os.path.isdir(target) else os.rmdir(target)
        os.rename(source, target)
        return self._ok(request_id)

    def readlink(self, request_id: int, reader: Reader) -> bytes:
        path = self._validated(reader.string(), READLINK)
        if not os.path.islink(path):
            raise Failed(FX_NO_SUCH_FILE, "invalid link")
        self._check(path)
        # Qt's symLinkTarget: the absolute target; Multipass turns it into a guest path
        target = os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))
        name = self._guest_path(target).encode()
        body = pack_string(name) + pack_string(name) + Attrs().pack()
        return bytes([NAME]) + struct.pack(">II", request_id, 1) + body

    def symlink(self, request_id: int, reader: Reader) -> bytes:
        old = self._validated(reader.string(), SYMLINK)
        new = self._absolute(reader.string())
        if not self._inside(new, False):
            raise denied()
        if os.path.exists(old):
            self._check(old)
        os.symlink(old, new)
        return self._ok(request_id)

    def extended(self, request_id: int, reader: Reader) -> bytes:
        method = reader.string()
        if method == b"posix-rename@openssh.com":
            return self.rename(request_id, reader)
        if method != b"hardlink@openssh.com":
            raise Failed(FX_OP_UNSUPPORTED, "Unsupported message")
        old = self._validated(reader.string(), EXTENDED)
        new = self._absolute(reader.string())
        if not self._inside(new, False):
            raise denied()
        self._check(old)
        os.link(old, new)
        return self._ok(request_id)
