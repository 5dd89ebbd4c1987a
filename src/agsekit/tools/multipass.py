"""The only module that runs `multipass`: one function per verb, typed results, typed errors.

Everything Multipass-specific lives here: argv shapes, which output is parseable (only
`--format json` and `get local.NAME.*`; spinners put escape codes on stdout even when it is
not a terminal), and how its stderr texts map to errors a user can act on. Facts come from
Multipass 1.16 (see the project's reference notes).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agsekit.config.sizes import parse_size
from agsekit.core.errors import ToolFailedError, ToolNotFoundError
from agsekit.tools.ptyrelay import Handover
from agsekit.tools.ptyrelay import run_attached as run_with_handover
from agsekit.tools.runner import Completed, run, trace, wait_registered, which

PROGRAM = "multipass"
INSTALL_HINT = "run `agsekit prepare` to install Multipass"
SNAP_RULE_HINT = (
    "Multipass on Linux is a snap and can only read folders under /home that are not "
    "inside a hidden (dot) folder; move the folder there"
)
_MISSING = re.compile(
    r"instance ['\"].*['\"] does not exist|no such instance|instance\(s\) missing"
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


# ----- errors ----------------------------------------------------------------------------


class MultipassError(ToolFailedError):
    """multipass ran and refused or failed; message is one sentence, hint the fix."""


class MultipassNotInstalledError(ToolNotFoundError):
    def __init__(self) -> None:
        super().__init__("Multipass is not installed or not on PATH", hint=INSTALL_HINT)


class DaemonUnavailableError(MultipassError):
    """The client cannot reach multipassd (not running, or not allowed)."""


class InstanceNotFoundError(MultipassError):
    pass


class InstanceDeletedError(MultipassError):
    pass


class InstanceExistsError(MultipassError):
    pass


class MustBeStoppedError(MultipassError):
    pass


class MountSourceMissingError(MultipassError):
    pass


class MultipassTimeoutError(MultipassError):
    pass


# ----- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    client: str
    daemon: str | None


@dataclass(frozen=True)
class InstanceSummary:
    name: str
    state: str
    ipv4: tuple[str, ...]
    release: str


@dataclass(frozen=True)
class MountInfo:
    target: str
    source: str


@dataclass(frozen=True)
class VmInfo:
    """What `info` reports. Runtime fields are None when the instance is not running."""

    name: str
    state: str
    cpu_count: int | None
    memory_total: int | None
    memory_used: int | None
    disk_total: int | None
    disk_used: int | None
    ipv4: tuple[str, ...]
    release: str
    mounts: tuple[MountInfo, ...]


@dataclass(frozen=True)
class ConfiguredResources:
    """What `get local.NAME.*` says the instance is configured with (bytes for sizes)."""

    cpus: int
    memory: int
    disk: int


# ----- verbs -----------------------------------------------------------------------------


def installed() -> bool:
    return which(PROGRAM) is not None


def version() -> Version:
    data = _json(_call(["version", "--format", "json"], verb="version"))
    daemon = data.get("multipassd")
    return Version(str(data.get("multipass", "")), str(daemon) if daemon else None)


def list_instances() -> tuple[InstanceSummary, ...]:
    data = _json(_call(["list", "--format", "json"], verb="list"))
    return tuple(
        InstanceSummary(
            name=str(item.get("name", "")),
            state=str(item.get("state", "Unknown")),
            ipv4=tuple(str(a) for a in item.get("ipv4") or ()),
            release=str(item.get("release", "")),
        )
        for item in data.get("list", [])
    )


def info(name: str) -> VmInfo:
    data = _json(_call(["info", "--format", "json", name], verb="info", name=name))
    entry = data.get("info", {}).get(name)
    if not isinstance(entry, dict):
        raise InstanceNotFoundError(
            f"the VM {name} does not exist in Multipass",
            argv=[PROGRAM, "info", name],
            returncode=0,
            hint=f"create it with `agsekit create-vm {name}`",
        )
    return _vm_info(name, entry)


def get_configured(name: str) -> ConfiguredResources:
    values = {
        key: _call(["get", f"local.{name}.{key}"], verb="get", name=name).stdout.strip()
        for key in ("cpus", "memory", "disk")
    }
    return ConfiguredResources(
        cpus=int(values["cpus"]),
        memory=parse_size(values["memory"]),
        disk=parse_size(values["disk"]),
    )


def set_setting(name: str, key: str, value: str) -> None:
    """`set local.NAME.KEY=VALUE`; Multipass requires the instance to be stopped."""
    _call(["set", f"local.{name}.{key}={value}"], verb="set", name=name)


def launch(
    name: str,
    *,
    cpus: int,
    memory: str,
    disk: str,
    cloud_init: Path | None = None,
    image: str | None = None,
    timeout_seconds: int = 900,
) -> None:
    argv = ["launch", "--name", name, "--cpus", str(cpus), "--memory", memory, "--disk", disk]
    if cloud_init is not None:
        argv += ["--cloud-init", str(cloud_init)]
    argv += ["--timeout", str(timeout_seconds)]
    if image:
        argv.append(image)
    _call(argv, verb="launch", name=name)


def start(name: str) -> None:
    _call(["start", name], verb="start", name=name)


def stop(name: str, *, force: bool = False) -> None:
    _call(["stop", *(["--force"] if force else []), name], verb="stop", name=name)


def restart(name: str) -> None:
    _call(["restart", name], verb="restart", name=name)


def delete_purge(name: str) -> None:
    """Delete and purge this one instance. Never the bare `purge`, which purges them all."""
    _call(["delete", "--purge", name], verb="delete", name=name)


def mount(source: Path, name: str, target: str, *, native: bool = False) -> None:
    kind = "native" if native else "classic"
    argv = ["mount", "--type", kind, str(source), f"{name}:{target}"]
    _call(argv, verb="mount", name=name, source=source)


def umount(name: str, target: str | None = None) -> None:
    _call(["umount", f"{name}:{target}" if target else name], verb="umount", name=name)


def exec_captured(
    name: str,
    command: Sequence[str],
    *,
    workdir: str | None = None,
    input: str | None = None,
) -> Completed:
    """Run a guest command and capture its output; returns the guest's exit status.

    Raises for Multipass' own failures only: a guest exit of 2 is told apart from a
    client failure by stderr starting with `exec failed:`."""
    argv = [PROGRAM, "exec", *_workdir_flags(workdir), name, "--", *command]
    result = _run(argv, input=input)
    if result.returncode != 0 and _is_client_failure(result, "exec"):
        raise _error(result, verb="exec", name=name)
    return result


def exec_attached(
    name: str,
    command: Sequence[str],
    *,
    workdir: str | None = None,
    handover: Handover | None = None,
) -> int:
    """Run a guest command with the caller's terminal. With a handover, the command reads
    its payload on stdin first, through agsekit's own pseudo-terminal or a pipe (Multipass
    gives the guest a terminal only when both stdin and stdout are terminals)."""
    argv = [PROGRAM, "exec", *_workdir_flags(workdir), name, "--", *command]
    if handover is None:
        return _run_attached(argv)
    if not installed():
        raise MultipassNotInstalledError()
    return run_with_handover(argv, handover)


def shell(name: str) -> int:
    """An interactive login shell. Multipass 1.16 always exits 0 from `shell`."""
    return _run_attached([PROGRAM, "shell", name])


# ----- plumbing --------------------------------------------------------------------------


def _workdir_flags(workdir: str | None) -> list[str]:
    # Without -d or -n Multipass maps the host's cwd into the guest when it lies inside a
    # mount source, which makes the guest's cwd depend on where agsekit was started.
    return ["-d", workdir] if workdir else ["-n"]


def _run(argv: list[str], *, input: str | None = None) -> Completed:
    if not installed():
        raise MultipassNotInstalledError()
    return run(argv, input=input, check=False, what=f"multipass {argv[1]}")


def _run_attached(argv: list[str]) -> int:
    if not installed():
        raise MultipassNotInstalledError()
    try:
        # Interactive: the user's terminal is the guest's terminal, so nothing is captured.
        trace(argv)
        return wait_registered(subprocess.Popen(argv))
    except FileNotFoundError:
        raise MultipassNotInstalledError() from None


def _call(
    args: list[str], *, verb: str, name: str | None = None, source: Path | None = None
) -> Completed:
    result = _run([PROGRAM, *args])
    if result.returncode != 0:
        raise _error(result, verb=verb, name=name, source=source)
    return result


def _json(result: Completed) -> dict[str, Any]:
    try:
        data = json.loads(result.stdout)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise MultipassError(
            f"`{' '.join(result.argv)}` printed something that is not JSON",
            argv=result.argv,
            returncode=result.returncode,
            stderr=result.stderr,
            hint="check that `multipass version` works; agsekit expects Multipass 1.16 or newer",
        )
    return data


def _is_client_failure(result: Completed, verb: str) -> bool:
    return clean(result.stderr).lstrip().startswith(f"{verb} failed:")


def clean(text: str) -> str:
    """Text without the spinner's escape codes and carriage returns."""
    return _ANSI.sub("", text)


def multipass_words(stderr: str, verb: str) -> str:
    """Multipass' own message without the `VERB failed:` prefix, on one line."""
    lines = [line.strip() for line in clean(stderr).splitlines() if line.strip()]
    words = []
    prefix = f"{verb} failed:"
    for line in lines:
        text = line[len(prefix) :].strip() if line.startswith(prefix) else line
        if text and text != "The following errors occurred:":
            words.append(text)
    return "; ".join(words) or "no message"


def _error(
    result: Completed, *, verb: str, name: str | None = None, source: Path | None = None
) -> MultipassError:
    stderr = clean(result.stderr)
    cls, message, hint = _classify(
        stderr.lower(),
        code=result.returncode,
        verb=verb,
        name=name,
        source=source,
        words=multipass_words(stderr, verb),
    )
    return cls(message, argv=result.argv, returncode=result.returncode, stderr=stderr, hint=hint)


Classified = tuple[type[MultipassError], str, str | None]


def _classify(
    lowered: str, *, code: int, verb: str, name: str | None, source: Path | None, words: str
) -> Classified:
    """The first matching rule wins; Multipass' own words are kept where they help."""
    label = f"the VM {name}" if name else "the VM"
    source_seen = source is not None and source.exists()
    rules: list[tuple[bool, Classified]] = [
        (
            "cannot connect to the multipass socket" in lowered,
            (
                DaemonUnavailableError,
                "the Multipass daemon is not running: multipass cannot connect to its socket",
                "start it (Linux: `sudo snap restart multipass`; macOS: "
                "`sudo launchctl kickstart -k system/com.canonical.multipassd`) and try again",
            ),
        ),
        (
            "socket access denied" in lowered,
            (
                DaemonUnavailableError,
                "Multipass refused this user access to its daemon",
                "run agsekit as a user of the sudo (or admin/wheel) group, the group Multipass "
                "lets use its socket",
            ),
        ),
        (
            code == 5,
            (
                MultipassTimeoutError,
                f"Multipass timed out waiting for {label}; it may still be starting",
                "wait a minute, then check with `agsekit status`",
            ),
        ),
        (
            "already exists" in lowered,
            (
                InstanceExistsError,
                f"{label} already exists in Multipass ({words})",
                f"if it was deleted, purge it with `agsekit destroy-vm {name}`",
            ),
        ),
        (
            "is deleted" in lowered,
            (
                InstanceDeletedError,
                f"{label} was deleted but not purged",
                f"purge it with `agsekit destroy-vm {name}`, then create it again",
            ),
        ),
        (
            bool(_MISSING.search(lowered)),
            (
                InstanceNotFoundError,
                f"{label} does not exist in Multipass",
                f"create it with `agsekit create-vm {name}`",
            ),
        ),
        (
            "must be stopped" in lowered,
            (
                MustBeStoppedError,
                f"Multipass can change {label} only while it is stopped ({words})",
                f"stop it first: `agsekit stop-vm {name}`",
            ),
        ),
        (
            "mount source path" in lowered and "does not exist" in lowered and source_seen,
            (
                MountSourceMissingError,
                f"Multipass cannot see {source}, although it exists on this host",
                SNAP_RULE_HINT,
            ),
        ),
        (
            "mount source path" in lowered and "does not exist" in lowered,
            (
                MountSourceMissingError,
                f"the folder to mount does not exist: {source or words}",
                "create it or fix `source` in the config",
            ),
        ),
    ]
    for matches, outcome in rules:
        if matches:
            return outcome
    return MultipassError, f"multipass {verb} failed: {words}", _generic_hint(verb, words)


def _generic_hint(verb: str, words: str) -> str:
    if verb == "launch" and "invalid" in words.lower():
        return "fix cpu, ram or disk of this VM in the config (Multipass minimums: 128M, 512M)"
    return "see `multipass " + verb + " --help`, or run `agsekit doctor`"


def _vm_info(name: str, entry: dict[str, Any]) -> VmInfo:
    memory = entry.get("memory") or {}
    disks = entry.get("disks") or {}
    first_disk: dict[str, Any] = next(iter(disks.values()), {}) if isinstance(disks, dict) else {}
    mounts = entry.get("mounts") or {}
    return VmInfo(
        name=name,
        state=str(entry.get("state", "Unknown")),
        cpu_count=_int_or_none(entry.get("cpu_count")),
        memory_total=_int_or_none(memory.get("total")),
        memory_used=_int_or_none(memory.get("used")),
        disk_total=_int_or_none((first_disk or {}).get("total")),
        disk_used=_int_or_none((first_disk or {}).get("used")),
        ipv4=tuple(str(a) for a in entry.get("ipv4") or ()),
        release=str(entry.get("release", "")),
        mounts=tuple(
            MountInfo(target=str(target), source=str((spec or {}).get("source_path", "")))
            for target, spec in sorted(mounts.items())
        ),
    )


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
