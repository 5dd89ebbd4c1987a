"""Enter a modelled instance: build its root, join its namespaces, boot as guest root.

Run as host root by guest.run with one JSON argument. Steps:
1. (host root) a private mount namespace; a tmpfs on the staging folder holds the guest's
   folders as bind mounts of the instance's files;
2. join the instance's user and PID namespaces (held by its keeper) as guest root, and
   unshare mount, UTS and IPC namespaces owned by that user namespace; from here on paths
   are relative to the staging folder, since guest ids may not pass through the folders
   above it (the test's private temporary folder);
3. fork (the child is in the instance's PID namespace), pivot into the new root, mount
   /proc and /dev/pts, and exec the boot script, which mounts the classic mounts with
   sshfs and runs the command as the default user.
No bubblewrap here: bubblewrap always sets no_new_privs and nosuid, and the guest's sudo
needs a set-user-ID helper. Standard library only.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import signal
import socket
import sys
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
NAMESPACES = (("user", CLONE_NEWUSER), ("pid", CLONE_NEWPID))
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 0x4000, 1 << 18
MNT_DETACH = 2
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
GUEST_ROOT_ID = 200000
SYSTEM = ("/usr",)
TOP_LEVEL = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")  # links into /usr, or folders
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

libc = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _bytes(value: str | None) -> bytes | None:
    return value.encode() if value is not None else None


def mount(source: str | None, target: str, kind: str | None, flags: int, data: str = "") -> None:
    result = libc.mount(_bytes(source), target.encode(), _bytes(kind), flags, _bytes(data or None))
    check(int(result), f"mount {source} on {target}")


def bind(source: str, target: str, mode: str) -> None:
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC)
    if mode in ("ro", "rw"):
        flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | (MS_RDONLY if mode == "ro" else 0)
        mount(None, target, None, flags)


def build_tree(request: dict[str, Any]) -> str:
    """(host root) The guest's folders, bound under STAGING/tree in a private namespace."""
    check(libc.unshare(CLONE_NEWNS), "unshare(mount)")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    staging = str(request["staging"])
    ids = f"uid={GUEST_ROOT_ID},gid={GUEST_ROOT_ID}"
    mount("tmpfs", staging, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=755,{ids}")
    tree = f"{staging}/tree"
    os.mkdir(tree)
    os.mkdir(f"{staging}/root")
    make_dev(f"{tree}/dev", ids)
    for folder in SYSTEM + tuple(
        f for f in TOP_LEVEL if os.path.isdir(f) and not os.path.islink(f)
    ):
        bind(folder, tree + folder, "ro")
    for source, target, mode in request["binds"]:
        bind(source, tree + target, mode)
    return staging


def make_dev(dev: str, ids: str) -> None:
    os.mkdir(dev)
    mount("tmpfs", dev, "tmpfs", MS_NOSUID, f"mode=755,{ids}")
    for name in DEVICES:
        bind(f"/dev/{name}", f"{dev}/{name}", "dev")
    os.mknod(f"{dev}/fuse", 0o20666, os.makedev(10, 229))
    os.chmod(f"{dev}/fuse", 0o666)
    os.chown(f"{dev}/fuse", GUEST_ROOT_ID, GUEST_ROOT_ID)
    os.mkdir(f"{dev}/pts")
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ):
        os.symlink(target, f"{dev}/{name}")


def join(request: dict[str, Any]) -> None:
    keeper = request["keeper"]
    # both opened first: once in the user namespace, the keeper's /proc entries are closed
    fds = [(os.open(f"/proc/{keeper}/ns/{k}", os.O_RDONLY), k, f) for k, f in NAMESPACES]
    for fd, kind, flag in fds:
        check(libc.setns(fd, flag), f"setns({kind})")
        os.close(fd)
    os.setgroups([0])
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    check(libc.unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC), "unshare(mount, uts, ipc)")
    socket.sethostname(request["name"])


def new_root() -> None:
    """(guest root, in the staging folder) A root of the guest's own, ./root: pivot_root
    refuses a mount inherited from a more privileged namespace."""
    mount("tmpfs", "root", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
    for entry in sorted(os.listdir("tree")):
        os.mkdir(f"root/{entry}")
        mount(f"tree/{entry}", f"root/{entry}", None, MS_BIND | MS_REC)
    for link in TOP_LEVEL:
        if os.path.islink(link):
            os.symlink(os.readlink(link), "root" + link)
    for folder in ("proc", "mnt", "srv", "media", ".old-root"):
        os.makedirs(f"root/{folder}", exist_ok=True)


def pivot() -> None:
    os.chdir("root")
    number = PIVOT_ROOT[platform.machine()]
    check(libc.syscall(number, b".", b".old-root"), "pivot_root")
    os.chdir("/")
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    options = "newinstance,ptmxmode=0666,mode=620,gid=5"
    mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, options)
    check(libc.umount2(b"/.old-root", MNT_DETACH), "umount old root")
    os.rmdir("/.old-root")


def boot(request: dict[str, Any]) -> None:
    args = ["/bin/bash", "/run/fake-multipass/boot"]
    for fd, source, target in request["mounts"]:
        args += [str(fd), source, target]
    args += ["--", request["line"]]
    os.execve(args[0], args, request["env"])


def main() -> int:
    request = json.loads(sys.argv[1])
    os.chdir(build_tree(request))
    join(request)
    new_root()
    # the guest's Ctrl+C is the guest's business: only the guest's command reacts to it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    child = os.fork()
    if child == 0:
        try:
            pivot()
            boot(request)
        finally:
            os._exit(127)
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
