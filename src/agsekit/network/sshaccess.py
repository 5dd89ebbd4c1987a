"""agsekit's way into a VM over ssh: its own key pair, its public key in the VM user's
authorized_keys, and the VM's host key pinned in its own known_hosts.

The keys live in $XDG_CONFIG_HOME/agsekit/ssh (default ~/.config/agsekit/ssh), a folder
of mode 0700 with the private key at mode 0600. The public key is put into the VM through
the VM manager's exec, so it needs no password and works on a freshly created VM.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from agsekit.core.display import show_path
from agsekit.core.errors import AgsekitError
from agsekit.tools import ssh
from agsekit.vm.backend import VmBackend

KEY_NAME = "id_ed25519"

# Appends the public key read from stdin, once: a second run changes nothing. Anything
# but a regular file there (a FIFO, a link to /dev/zero, which whoever is the VM's user
# may put there) is refused: reading or appending to it would never end.
INSTALL_SCRIPT = r"""set -eu
umask 077
key=$(cat)
mkdir -p "$HOME/.ssh"
file="$HOME/.ssh/authorized_keys"
if [ -e "$file" ] && [ ! -f "$file" ]; then
  echo "$file is not a regular file" >&2
  exit 1
fi
touch "$file"
if ! grep -qxF -- "$key" "$file"; then
  if [ -s "$file" ] && [ -n "$(tail -c 1 "$file")" ]; then echo >> "$file"; fi
  printf '%s\n' "$key" >> "$file"
fi
"""


def ssh_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME", "~"), ".config")
    return Path(base).expanduser() / "agsekit" / "ssh"


def identity(vm: str) -> ssh.Identity:
    folder = ssh_dir()
    return ssh.Identity(folder / KEY_NAME, folder / "known_hosts", f"agsekit-{vm}")


def ensure_key() -> Path:
    """agsekit's key pair, made the first time (under a lock: two commands at once make
    one pair)."""
    folder = ssh_dir()
    key = folder / KEY_NAME
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _check_private(folder, key)
    if key.exists() and key.with_suffix(".pub").exists():
        return key
    with _locked(folder / "lock"):
        if not (key.exists() and key.with_suffix(".pub").exists()):
            _generate(folder, key)
    return key


def _check_private(folder: Path, key: Path) -> None:
    """The folder and its files are this user's own, and only theirs to read: one that
    another user could have put there (a folder moved in from a parent that others may
    write to, a planted link) would give agsekit that user's key and known_hosts."""
    me = os.geteuid()
    info = folder.stat()
    if info.st_uid != me:
        raise AgsekitError(
            f"agsekit's ssh folder {show_path(str(folder))} belongs to another user "
            f"(uid {info.st_uid})",
            hint="remove it (agsekit makes a new key pair) or make it yours",
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        folder.chmod(0o700)
    for path in (key, key.with_suffix(".pub"), folder / "known_hosts"):
        try:
            found = path.lstat()
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(found.st_mode) or found.st_uid != me:
            raise AgsekitError(
                f"{show_path(str(path))} is not a file of your own (a link, or another user's)",
                hint=f"remove it; agsekit makes what it needs in {show_path(str(folder))}",
            )
        if path == key and stat.S_IMODE(found.st_mode) & 0o077:
            key.chmod(0o600)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _generate(folder: Path, key: Path) -> None:
    scratch = Path(tempfile.mkdtemp(prefix=".new-key-", dir=folder))
    try:
        ssh.generate_key(scratch / KEY_NAME, "agsekit")
        os.replace(scratch / f"{KEY_NAME}.pub", key.with_suffix(".pub"))
        os.replace(scratch / KEY_NAME, key)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    key.chmod(0o600)


def install_key(backend: VmBackend, vm: str) -> None:
    """Put agsekit's public key into the VM user's ~/.ssh/authorized_keys (once)."""
    public = ensure_key().with_suffix(".pub").read_text(encoding="utf-8").strip()
    result = backend.exec(vm, ["sh", "-c", INSTALL_SCRIPT], input=public + "\n")
    if result.returncode != 0:
        words = result.stderr.strip().splitlines()[-1:] or ["no message"]
        raise AgsekitError(
            f"cannot put agsekit's ssh key into the VM {vm}: {words[0]}",
            hint=f"check that the VM works: agsekit shell {vm}",
        )


def prepare(backend: VmBackend, vm: str) -> tuple[ssh.Identity, ssh.Destination]:
    """Everything an ssh connection to the running VM needs, its key installed."""
    endpoint = backend.ssh_endpoint(vm)
    install_key(backend, vm)
    return identity(vm), ssh.Destination(endpoint.host, endpoint.port, endpoint.user)


def forget_vm(vm: str) -> None:
    """Unpin the VM's host key (it was destroyed)."""
    ssh.forget_host(identity(vm))
