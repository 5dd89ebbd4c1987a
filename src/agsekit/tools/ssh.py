"""The only module that builds `ssh` and `ssh-keygen` command lines (argv lists, no shell).

Every connection uses agsekit's own key and known_hosts, and nothing of the user's ssh
configuration (`-F none`), so that what works in the tests works on every host. The VM's
host key is pinned on first contact under the alias `agsekit-VM` (not its address, which
Multipass may change): `StrictHostKeyChecking=accept-new` refuses a changed key, never
`no`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from agsekit.config.model import Forward
from agsekit.core.errors import UsageError
from agsekit.tools.runner import require, run, trace, which

PROGRAM = "ssh"
KEYGEN = "ssh-keygen"
INSTALL_HINT = (
    "install the OpenSSH client: `agsekit prepare`, or sudo apt-get install openssh-client"
)
KEEPALIVE_SECONDS = 15
KEEPALIVE_COUNT = 3  # unanswered keep-alives before ssh gives up: a dead VM is seen in 45 s
CONNECT_TIMEOUT = 15
# ssh's options that take a value (OpenSSH 9: ssh -h); every other letter is a flag.
VALUE_OPTIONS = frozenset("BbcDEeFIiJLlmOoPpQRSWw")


@dataclass(frozen=True)
class Identity:
    key: Path  # the private key; the public one is beside it with .pub
    known_hosts: Path
    alias: str  # the name the VM's host key is pinned under


@dataclass(frozen=True)
class Destination:
    host: str
    port: int
    user: str


def ssh_path() -> str:
    return require(PROGRAM, INSTALL_HINT)


def generate_key(path: Path, comment: str) -> None:
    """A new ed25519 key pair without a passphrase at path and path.pub (mode 0600)."""
    require(KEYGEN, INSTALL_HINT)
    argv = [KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)]
    run(argv, what="ssh-keygen")


def forget_host(identity: Identity) -> None:
    """Unpin the VM's host key (the VM was destroyed; a new one has a new key)."""
    if identity.known_hosts.exists() and which(KEYGEN) is not None:
        run([KEYGEN, "-R", identity.alias, "-f", str(identity.known_hosts)], check=False)


def _option_path(path: Path) -> str:
    text = str(path)
    if '"' in text:
        raise UsageError(f"agsekit's ssh folder may not contain a double quote: {text}")
    return f'"{text}"'  # quoted: ssh splits these options' values at spaces


def common_options(identity: Identity, destination: Destination) -> list[str]:
    return [
        "-F",
        "none",
        "-i",
        str(identity.key),
        "-p",
        str(destination.port),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        f"UserKnownHostsFile={_option_path(identity.known_hosts)}",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        f"HostKeyAlias={identity.alias}",
    ]


def forward_flags(forward: Forward) -> list[str]:
    if forward.type == "local":
        return ["-L", f"{forward.host_addr}:{forward.vm_addr}"]
    if forward.type == "remote":
        return ["-R", f"{forward.vm_addr}:{forward.host_addr}"]
    return ["-R", str(forward.vm_addr)]  # -R without a target: a SOCKS proxy in the VM


def forward_argv(
    identity: Identity, destination: Destination, forwards: Sequence[Forward]
) -> list[str]:
    """`ssh -N` keeping forwards up; -v: the runner reads from ssh's log when they are."""
    argv = [ssh_path(), "-v", "-N", *common_options(identity, destination)]
    for option in (
        "BatchMode=yes",
        "ExitOnForwardFailure=yes",
        f"ServerAliveInterval={KEEPALIVE_SECONDS}",
        f"ServerAliveCountMax={KEEPALIVE_COUNT}",
        f"ConnectTimeout={CONNECT_TIMEOUT}",
    ):
        argv += ["-o", option]
    for forward in forwards:
        argv += forward_flags(forward)
    return [*argv, "--", f"{destination.user}@{destination.host}"]


def session_argv(
    identity: Identity,
    destination: Destination,
    options: Sequence[str],
    command: Sequence[str],
) -> list[str]:
    """An ssh session with the user's own options; command runs as ssh runs one (its words
    joined by spaces, read by the VM user's shell)."""
    target = f"{destination.user}@{destination.host}"
    return [ssh_path(), *common_options(identity, destination), *options, "--", target, *command]


def replace_process(argv: list[str]) -> NoReturn:
    """Become ssh: the user's terminal, signals and exit status are ssh's own."""
    trace(argv)
    os.execv(argv[0], argv)  # noqa: S606 - an argv list, no shell


def split_arguments(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """SSH_ARGS into (ssh options, remote command), read as ssh reads its own: options
    (with their values) up to `--` or the first word that is not one; the rest is the
    command."""
    options: list[str] = []
    index = 0
    while index < len(args):
        word = args[index]
        if word == "--":
            return options, list(args[index + 1 :])
        if not word.startswith("-") or word == "-":
            break
        options.append(word)
        index += 1
        if _wants_value(word):
            if index >= len(args):
                raise UsageError(f"the ssh option {word} needs a value")
            options.append(args[index])
            index += 1
    return options, list(args[index:])


def _wants_value(word: str) -> bool:
    """Whether a cluster such as -vL or -p takes the next word as its value."""
    for position, letter in enumerate(word[1:], start=1):
        if letter in VALUE_OPTIONS:
            return position == len(word) - 1  # -p22: the value is attached
    return False
