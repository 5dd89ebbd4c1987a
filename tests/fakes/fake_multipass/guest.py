"""The modelled guest: several users, a root, one process table per running instance.

Used when the double runs as host root (as the tests do here and on CI) and the host has
what it needs (see `missing()`); otherwise sandbox.py falls back to a single-user sandbox
in which the guest has no root, no sudo and no other users.

How the instance is modelled:

- Guest ids 0..65535 are host ids 200000..265535 (`host_id`), in one user namespace per
  running instance. Guest root (uid 0) has every capability, but only inside that user
  namespace: it can do what root can do in a VM and nothing on the host.
- A keeper process per running instance holds that user namespace and a PID namespace, so
  that every `exec` of the instance sees the same process table, as in a VM (/proc/PID of
  another session, its environ readable or not by the kernel's own rules). Stopping the
  instance kills the keeper, and with it every guest process, as a power-off would.
- The guest's files persist under the state folder: `homes/NAME` is /home/ubuntu (mode
  750, as on Ubuntu 24.04), `guests/NAME/{etc,home,opt,root,var,tmp,usr-local}` the rest,
  `shm/NAME` /dev/shm. /etc holds the instance's own passwd, group, shadow and sudoers
  (`useradd` really edits them) and links to the host's /etc for everything else. /usr
  is the host's, read-only, except /usr/local.
- `sudo` is a script at /usr/local/bin/sudo that switches user through a set-user-ID copy
  of setpriv which only root and the group of the default user may execute: the default
  user has passwordless sudo (cloud-init's `ubuntu ALL=(ALL) NOPASSWD:ALL`), other users
  have none ("a password is required").
- Classic mounts are real sshfs mounts made by guest root, as Multipass makes them, served
  from the host by sftp.py with Multipass' permission rules.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .sftp import DEFAULT, Mount, SftpServer, parse_map
from .state import Instance, home_of, shm_of, state_dir, switch

UID_BASE = 200000
ID_COUNT = 65536
DEFAULT_UID = 1000
HERE = Path(__file__).resolve().parent
TOOLS = ("nsenter", "setpriv", "sshfs", "mountpoint", "useradd")
MANAGED_ETC = (
    "passwd",
    "group",
    "shadow",
    "gshadow",
    "passwd-",
    "group-",
    "shadow-",
    "gshadow-",
    "sudoers",
    "sudoers.d",
    "login.defs",
    "hostname",
    "hosts",
    "subuid",
    "subgid",
    ".pwd.lock",
)

USERS_FILE = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
ubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash
"""
GROUPS = (
    ("root", 0, ""),
    ("daemon", 1, ""),
    ("adm", 4, "ubuntu"),
    ("tty", 5, ""),
    ("cdrom", 24, "ubuntu"),
    ("sudo", 27, "ubuntu"),
    ("dip", 30, "ubuntu"),
    ("shadow", 42, ""),
    ("users", 100, ""),
    ("nogroup", 65534, ""),
    ("ubuntu", 1000, ""),
)
SUDOERS = """Defaults env_reset
Defaults env_keep += "NODE_EXTRA_CA_CERTS SSL_CERT_FILE SSL_CERT_DIR REQUESTS_CA_BUNDLE"
Defaults mail_badpass
Defaults secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin"
Defaults use_pty
root ALL=(ALL:ALL) ALL
%admin ALL=(ALL) ALL
%sudo ALL=(ALL:ALL) ALL
@includedir /etc/sudoers.d
"""
CLOUD_INIT_SUDOERS = (
    "# Created by cloud-init v. 24.1\n\n# User rules for ubuntu\nubuntu ALL=(ALL) NOPASSWD:ALL\n"
)


def host_id(guest_id: int) -> int:
    return UID_BASE + guest_id


def missing() -> str | None:
    """Why the guest cannot be modelled here, or None."""
    if os.geteuid() != 0:
        return "the tests do not run as root"
    absent = [tool for tool in TOOLS if shutil.which(tool) is None]
    if absent:
        return f"missing on the host: {', '.join(absent)} (apt-get install util-linux passwd sshfs)"
    if not os.path.exists("/dev/fuse"):
        return "the host has no /dev/fuse"
    return None


def modelled() -> bool:
    return not switch("single-user-guest") and missing() is None


def guest_dir(name: str) -> Path:
    return state_dir() / "guests" / name


# ----- the guest's files ---------------------------------------------------------------


def _own(path: Path, uid: int, gid: int | None = None, mode: int | None = None) -> None:
    os.lchown(path, host_id(uid), host_id(uid if gid is None else gid))
    if mode is not None and not path.is_symlink():
        path.chmod(mode)


def _folder(path: Path, uid: int, mode: int, gid: int | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    _own(path, uid, gid, mode)
    return path


def _file(path: Path, text: str, mode: int, gid: int = 0) -> None:
    path.write_text(text)
    _own(path, 0, gid, mode)


def prepare(name: str) -> None:
    """Create the instance's files the first time; later calls only check a marker."""
    base = guest_dir(name)
    if (base / "prepared").exists():
        return
    base.mkdir(parents=True, exist_ok=True)
    _folder(home_of(name), DEFAULT_UID, 0o750)
    _folder(shm_of(name), 0, 0o1777)
    for sub, mode in (("home", 0o755), ("opt", 0o755), ("root", 0o700), ("tmp", 0o1777)):
        _folder(base / sub, 0, mode)
    for sub, mode in (("tmp", 0o1777), ("log", 0o755), ("lib", 0o755), ("cache", 0o755)):
        _folder(base / "var" / sub, 0, mode)
    _own(base / "var", 0, mode=0o755)
    _folder(base / "keeper-root", 0, 0o555)
    _usr_local(base / "usr-local")
    _etc(base / "etc", name)
    (base / "prepared").touch()


def _usr_local(folder: Path) -> None:
    for sub in ("bin", "sbin", "lib", "share", "include", "etc", "src"):
        _folder(folder / sub, 0, 0o755)
    _own(folder, 0, mode=0o755)
    sudo = folder / "bin" / "sudo"
    shutil.copyfile(HERE / "guest_sudo.sh", sudo)
    _own(sudo, 0, mode=0o755)
    helper_dir = _folder(folder / "lib" / "fake-multipass", 0, 0o755)
    helper = helper_dir / "setpriv"
    shutil.copyfile(shutil.which("setpriv") or "/usr/bin/setpriv", helper)
    _own(helper, 0, DEFAULT_UID, 0o4750)  # set-user-ID root, for root and group ubuntu only


def _etc(folder: Path, name: str) -> None:
    _folder(folder, 0, 0o755)
    for entry in sorted(os.listdir("/etc")):
        link = folder / entry
        if entry not in MANAGED_ETC and not os.path.lexists(link):
            link.symlink_to(f"/run/host/etc/{entry}")
            _own(link, 0)
    _file(folder / "passwd", USERS_FILE, 0o644)
    _file(folder / "group", "".join(f"{n}:x:{g}:{m}\n" for n, g, m in GROUPS), 0o644)
    users = ("root", "daemon", "nobody", "ubuntu")
    _file(
        folder / "shadow",
        "".join(f"{u}:{'!' if u == 'ubuntu' else '*'}:19800:0:99999:7:::\n" for u in users),
        0o640,
        42,
    )
    _file(folder / "gshadow", "".join(f"{n}:*::{m}\n" for n, _, m in GROUPS), 0o640, 42)
    _file(folder / "sudoers", SUDOERS, 0o440)
    _folder(folder / "sudoers.d", 0, 0o755)
    _file(folder / "sudoers.d" / "90-cloud-init-users", CLOUD_INIT_SUDOERS, 0o440)
    defaults = Path("/etc/login.defs").read_text() if Path("/etc/login.defs").exists() else ""
    _file(folder / "login.defs", defaults + "\n# as on Ubuntu 24.04\nHOME_MODE\t0750\n", 0o644)
    _file(folder / "hostname", f"{name}\n", 0o644)
    _file(folder / "hosts", f"127.0.0.1 localhost\n127.0.1.1 {name}\n", 0o644)


def forget(name: str) -> None:
    """Delete --purge: the instance's files go."""
    stop_keeper(name)
    for folder in (guest_dir(name), home_of(name), shm_of(name)):
        shutil.rmtree(folder, ignore_errors=True)


def power_off(name: str) -> None:
    """Stop: every guest process ends and RAM (/dev/shm, /tmp) is cleared."""
    stop_keeper(name)
    for folder in (shm_of(name), guest_dir(name) / "tmp"):
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)


# ----- the keeper: one user and PID namespace per running instance ----------------------

CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNS = 0x00020000


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _checked(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _keeper_file(name: str) -> Path:
    return guest_dir(name) / "keeper.pid"


def _start_time(pid: int) -> str | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[19]


def _live_pid(pid_file: Path) -> int | None:
    """The keeper's host PID from its pid file, if that process still runs (the start time
    tells it from a later process with the same PID)."""
    try:
        pid_text, started, _token = pid_file.read_text().split()
    except (OSError, ValueError):
        return None
    pid = int(pid_text)
    return pid if _start_time(pid) == started else None


def keeper_pid(name: str) -> int | None:
    return _live_pid(_keeper_file(name))


def ensure_keeper(name: str) -> int:
    base = guest_dir(name)
    with open(base / "keeper.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        pid = keeper_pid(name)
        if pid is None:
            pid = _spawn_keeper(name)
        return pid


def _stop(pid_file: Path) -> None:
    pid = _live_pid(pid_file)
    pid_file.unlink(missing_ok=True)  # alone, this ends the keeper within a second
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # PID 1 gone: the kernel kills the whole namespace


def stop_keeper(name: str) -> None:
    _stop(_keeper_file(name))


def stop_all_keepers(state: Path) -> None:
    """For test teardown: end every instance's processes."""
    for path in state.glob("guests/*/keeper.pid"):
        _stop(path)


def _spawn_keeper(name: str) -> int:
    token = secrets.token_hex(8)
    ready_r, ready_w = os.pipe()
    mapped_r, mapped_w = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked child
        os.close(ready_r)
        os.close(mapped_w)
        _keeper_child(name, token, ready_w, mapped_r)
    os.close(ready_w)
    os.close(mapped_r)
    try:
        if os.read(ready_r, 1) != b"u":
            raise OSError("the keeper could not create its user namespace")
        Path(f"/proc/{child}/uid_map").write_text(f"0 {UID_BASE} {ID_COUNT}\n")
        Path(f"/proc/{child}/setgroups").write_text("allow\n")
        Path(f"/proc/{child}/gid_map").write_text(f"0 {UID_BASE} {ID_COUNT}\n")
        os.write(mapped_w, b"m")
        answer = b""
        while chunk := os.read(ready_r, 64):
            answer += chunk
    finally:
        os.close(ready_r)
        os.close(mapped_w)
        os.waitpid(child, 0)
    pid = int(answer.decode())
    _keeper_file(name).write_text(f"{pid} {_start_time(pid)} {token}\n")
    return pid


def _keeper_child(name: str, token: str, ready_w: int, mapped_r: int) -> None:
    """Create the namespaces, then fork the keeper itself (PID 1 of the new namespace)."""
    code = 1
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        _close_all_but({ready_w, mapped_r})
        libc = _libc()
        _checked(libc.unshare(CLONE_NEWUSER), "unshare(user)")
        os.write(ready_w, b"u")
        os.read(mapped_r, 1)
        _checked(libc.unshare(CLONE_NEWPID), "unshare(pid)")
        folder = os.open(guest_dir(name), os.O_RDONLY | os.O_DIRECTORY)
        pid = os.fork()
        if pid == 0:
            os.close(ready_w)
            os.close(mapped_r)
            _keep(libc, folder, token)
        os.write(ready_w, str(pid).encode())
        code = 0
    finally:
        os._exit(code)


def _close_all_but(keep: set[int]) -> None:
    start = 3
    for fd in sorted(keep):
        os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, 65536)


def _keep(libc: Any, folder: int, token: str) -> None:
    """PID 1 of the guest: reaps orphans until the instance stops (its pid file goes)."""
    os.setresgid(0, 0, 0)
    os.setgroups([])
    os.setresuid(0, 0, 0)  # guest root, not the host's: nothing to gain by ptrace-ing it
    _checked(libc.unshare(CLONE_NEWNS), "unshare(mount)")
    os.fchdir(folder)
    os.chroot("keeper-root")  # an empty folder: nothing of the host to reach from here
    os.chdir("/")
    registered = time.monotonic() + 30  # the double writes the pid file once we exist
    while True:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        if _registered(folder, token):
            registered = 0.0
        elif time.monotonic() > registered:
            os._exit(0)
        time.sleep(0.3)


def _registered(folder: int, token: str) -> bool:
    try:
        fd = os.open("keeper.pid", os.O_RDONLY, dir_fd=folder)
    except OSError:
        return False
    try:
        return token in os.read(fd, 200).decode()
    finally:
        os.close(fd)


# ----- exec ------------------------------------------------------------------------------

GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin"


def guest_env(extra: dict[str, str]) -> dict[str, str]:
    env = {
        "HOME": "/home/ubuntu",
        "USER": "ubuntu",
        "LOGNAME": "ubuntu",
        "SHELL": "/bin/bash",
        "PATH": GUEST_PATH,
        "LANG": "C.UTF-8",
    }
    env.update(extra)
    return env


def _binds(name: str) -> list[list[str]]:
    base = guest_dir(name)
    rw = [
        (base / "etc", "/etc"),
        (base / "home", "/home"),
        (home_of(name), "/home/ubuntu"),
        (base / "opt", "/opt"),
        (base / "root", "/root"),
        (base / "var", "/var"),
        (base / "tmp", "/tmp"),
        (shm_of(name), "/dev/shm"),
    ]
    binds = [[str(src), dst, "rw"] for src, dst in rw]
    binds.insert(0, ["/etc", "/run/host/etc", "ro"])
    binds.append([str(base / "usr-local"), "/usr/local", "suid"])
    binds.append([str(HERE / "guest_boot.sh"), "/run/fake-multipass/boot", "ro"])
    return binds


def _serve(mounts: list[tuple[socket.socket, Mount]]) -> list[threading.Thread]:
    threads = []
    for sock, mount in mounts:
        thread = threading.Thread(target=SftpServer(sock, mount).serve, daemon=True)
        thread.start()
        threads.append(thread)
    return threads


def _mount_of(target: str, spec: dict[str, Any]) -> Mount:
    uid_map = [parse_map(m) for m in spec.get("uid_mappings") or [f"{os.getuid()}:default"]]
    gid_map = [parse_map(m) for m in spec.get("gid_mappings") or [f"{os.getgid()}:default"]]
    return Mount(spec["source_path"], target, uid_map, gid_map)


def run(name: str, instance: Instance, line: str, extra_env: dict[str, str]) -> int:
    """Run `bash -c LINE` as the default user, with the instance's mounts."""
    prepare(name)
    keeper = ensure_keeper(name)
    ours: list[socket.socket] = []
    served: list[tuple[socket.socket, Mount]] = []
    mounts = []
    for target in sorted(instance.get("mounts", {}), key=len):
        spec = instance["mounts"][target]
        if switch("broken-mounts") or not Path(spec["source_path"]).is_dir():
            mounts.append([-1, spec["source_path"], target])
            continue
        host_end, guest_end = socket.socketpair()
        ours += [host_end, guest_end]
        served.append((host_end, _mount_of(target, spec)))
        guest_end.set_inheritable(True)
        mounts.append([guest_end.fileno(), spec["source_path"], target])
    staging = tempfile.mkdtemp(prefix="staging-", dir=guest_dir(name))
    request = {
        "name": name,
        "keeper": keeper,
        "staging": staging,
        "binds": _binds(name),
        "mounts": mounts,
        "line": line,
        "env": guest_env(extra_env),
    }
    _serve(served)
    fds = tuple(m[0] for m in mounts if m[0] >= 0)
    argv = [sys.executable, "-S", str(HERE / "enter.py"), json.dumps(request)]
    try:
        return subprocess.run(argv, pass_fds=fds, check=False).returncode
    finally:
        for sock in ours:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        with contextlib.suppress(OSError):
            os.rmdir(staging)


def default_mappings() -> tuple[list[str], list[str]]:
    return [f"{os.getuid()}:default"], [f"{os.getgid()}:default"]


__all__ = [
    "DEFAULT",
    "UID_BASE",
    "default_mappings",
    "ensure_keeper",
    "forget",
    "host_id",
    "missing",
    "modelled",
    "power_off",
    "prepare",
    "run",
    "stop_all_keepers",
]
