"""Runs a guest command in a sandbox that looks like the instance.

As host root (the tests here and on CI) the guest is modelled with users, a root, sudo,
one process table per instance and real sshfs mounts (guest.py). Elsewhere a bubblewrap
sandbox runs everything as the one guest user, with the mounts bound directly.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from . import guest
from .state import Instance, home_of, shm_of, state_dir, switch

GUEST_HOME = "/home/ubuntu"
RESET_INTERRUPT = ["/usr/bin/env", "--default-signal=INT"]
CA_SETTINGS = ("NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")
GUEST_PATH = guest.GUEST_PATH
# System folders shared read-only so that programs run; nothing else of the host is visible.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")


def _system_binds() -> list[str]:
    args: list[str] = []
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    return args


def _identity_files() -> list[str]:
    """passwd/group naming uid 1000 `ubuntu`, as in the Ubuntu images."""
    folder = state_dir() / "etc"
    folder.mkdir(exist_ok=True)
    passwd = folder / "passwd"
    group = folder / "group"
    passwd.write_text(
        "root:x:0:0:root:/root:/bin/bash\n"
        f"ubuntu:x:1000:1000:Ubuntu:{GUEST_HOME}:/bin/bash\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    group.write_text("root:x:0:\nubuntu:x:1000:\nnogroup:x:65534:\n")
    return ["--ro-bind", str(passwd), "/etc/passwd", "--ro-bind", str(group), "/etc/group"]


def _host_settings() -> dict[str, str]:
    """TERM for the terminal; the CA settings so that a guest behind the same
    TLS-inspecting network as the host (as on CI machines) can reach package registries."""
    return {key: os.environ[key] for key in ("TERM", *CA_SETTINGS) if os.environ.get(key)}


def bwrap_argv(name: str, instance: Instance, script: list[str]) -> list[str]:
    args = [
        "bwrap",
        "--unshare-all",
        "--share-net",
        "--die-with-parent",
        "--uid",
        "1000",
        "--gid",
        "1000",
        "--hostname",
        name,
        *_system_binds(),
        *_identity_files(),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--bind",
        str(shm_of(name)),
        "/dev/shm",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/run",
        "--dir",
        "/var/tmp",
        "--bind",
        str(home_of(name)),
        GUEST_HOME,
    ]
    mounts = instance.get("mounts", {})
    for target in sorted(mounts, key=len):  # parents before children
        source = mounts[target]["source_path"]
        if Path(source).is_dir() and not switch("broken-mounts"):
            args += ["--bind", source, target]
        else:
            args += ["--dir", target]  # a broken mount shows up as an empty folder
    args += ["--chdir", GUEST_HOME, "--clearenv"]
    for key, value in guest.guest_env(_host_settings()).items():
        args += ["--setenv", key, value]
    return [*args, "--", *script]


def run_command(name: str, instance: Instance, command: list[str], workdir: str) -> int:
    """Like Multipass over ssh: cd into workdir, then run the shell-escaped arguments."""
    line = f"cd {shlex.quote(workdir)} && {shlex.join(command)}"
    if guest.modelled():
        return _forwarding_interrupts(lambda: guest.run(name, instance, line, _host_settings()))
    guest_argv = [*RESET_INTERRUPT, "/bin/bash", "-c", line]
    return _forwarding_interrupts(lambda: _run(bwrap_argv(name, instance, guest_argv)))


def run_shell(name: str, instance: Instance) -> int:
    if guest.modelled():
        line = f"cd {GUEST_HOME} && exec /bin/bash -l"
        return _forwarding_interrupts(lambda: guest.run(name, instance, line, _host_settings()))
    argv = bwrap_argv(name, instance, [*RESET_INTERRUPT, "/bin/bash", "-l"])
    return _forwarding_interrupts(lambda: _run(argv))


def _run(argv: list[str]) -> int:
    return subprocess.run(argv, check=False).returncode


def _forwarding_interrupts(run: Callable[[], int]) -> int:
    """Like the real client, Ctrl+C is the guest's business: the guest command (which
    shares the terminal) gets it, and the client waits for the guest's exit status.

    The client and the sandbox ignore SIGINT (they would otherwise die and take the guest
    with them); `env --default-signal=INT` gives the guest command the default back."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return run()
    finally:
        signal.signal(signal.SIGINT, previous)
