"""`agsekit prepare`: find what the host lacks (Multipass, ssh) and install it.

Detection and planning are pure (HostFacts -> Plan) so they can be checked for every
supported system; only run_plan() touches the host, through the runner.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agsekit.core.errors import AgsekitError
from agsekit.core.reporting import Reporter
from agsekit.tools.runner import run, which

TOOLS = ("multipass", "ssh", "snap", "brew", "apt-get", "pacman", "yay", "paru")


class UnsupportedSystemError(AgsekitError):
    pass


@dataclass(frozen=True)
class HostFacts:
    system: str  # platform.system(): Linux, Darwin, ...
    os_release: Mapping[str, str]  # /etc/os-release keys (Linux only)
    kernel_release: str  # WSL kernels say "microsoft"
    present: frozenset[str]  # which of TOOLS are on PATH
    is_root: bool


@dataclass(frozen=True)
class Step:
    description: str
    argv: tuple[str, ...]
    sudo: bool = False


@dataclass(frozen=True)
class Plan:
    system: str  # e.g. "Debian/Ubuntu"
    steps: tuple[Step, ...] = ()
    manual: tuple[str, ...] = field(default=())  # what the user must do by hand

    @property
    def nothing_to_do(self) -> bool:
        return not self.steps and not self.manual


def detect_host() -> HostFacts:
    return HostFacts(
        system=platform.system(),
        os_release=read_os_release(Path("/etc/os-release")),
        kernel_release=platform.release(),
        present=frozenset(tool for tool in TOOLS if which(tool)),
        is_root=hasattr(os, "geteuid") and os.geteuid() == 0,
    )


def read_os_release(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            values[key.strip()] = value.strip().strip("'\"")
    return values


def make_plan(facts: HostFacts) -> Plan:
    if "microsoft" in facts.kernel_release.lower() or "WSL_DISTRO_NAME" in facts.os_release:
        raise UnsupportedSystemError(
            "WSL is not supported: Multipass cannot run VMs inside WSL",
            hint="install Multipass for Windows and run agsekit on a Linux or macOS host",
        )
    if facts.system == "Darwin":
        return _macos_plan(facts)
    if facts.system == "Linux":
        family = _linux_family(facts.os_release)
        if family == "debian":
            return _debian_plan(facts)
        if family == "arch":
            return _arch_plan(facts)
        name = facts.os_release.get("PRETTY_NAME") or "this Linux distribution"
        raise UnsupportedSystemError(
            f"agsekit prepare does not know how to install packages on {name}",
            hint="install multipass (https://multipass.run) and openssh by hand, then "
            "run `agsekit doctor`",
        )
    raise UnsupportedSystemError(
        f"{facts.system or sys.platform} is not supported",
        hint="agsekit runs on Debian/Ubuntu, Arch Linux and macOS",
    )


def _linux_family(os_release: Mapping[str, str]) -> str | None:
    ids = {os_release.get("ID", "")} | set(os_release.get("ID_LIKE", "").split())
    if ids & {"debian", "ubuntu"}:
        return "debian"
    if ids & {"arch", "archlinux"}:
        return "arch"
    return None


def _debian_plan(facts: HostFacts) -> Plan:
    packages = []
    if "ssh" not in facts.present:
        packages.append("openssh-client")
    need_snapd = "multipass" not in facts.present and "snap" not in facts.present
    if need_snapd:
        packages.append("snapd")
    steps = []
    if packages:
        steps.append(Step("refresh the package lists", ("apt-get", "update"), sudo=True))
        steps.append(
            Step(
                "install " + ", ".join(packages),
                ("apt-get", "install", "-y", *packages),
                sudo=True,
            )
        )
    if need_snapd:
        steps.append(
            Step("wait for snapd to be ready", ("snap", "wait", "system", "seed.loaded"), True)
        )
    if "multipass" not in facts.present:
        steps.append(Step("install Multipass", ("snap", "install", "multipass"), sudo=True))
    return Plan("Debian/Ubuntu", tuple(steps))


def _macos_plan(facts: HostFacts) -> Plan:
    missing = [t for t in ("multipass",) if t not in facts.present]
    if not missing:
        return Plan("macOS")
    if "brew" not in facts.present:
        return Plan("macOS", manual=("install Homebrew (https://brew.sh), then run this again",))
    steps = []
    if "multipass" in missing:
        steps.append(Step("install Multipass", ("brew", "install", "--cask", "multipass")))
    return Plan("macOS", tuple(steps))


def _arch_plan(facts: HostFacts) -> Plan:
    wanted = (("ssh", "openssh"),)
    packages = [package for tool, package in wanted if tool not in facts.present]
    steps = []
    manual: tuple[str, ...] = ()
    if packages:
        steps.append(
            Step(
                "install " + ", ".join(packages),
                ("pacman", "-S", "--needed", "--noconfirm", *packages),
                sudo=True,
            )
        )
    if "multipass" not in facts.present:
        helper = next((h for h in ("yay", "paru") if h in facts.present), None)
        if helper:
            argv = (helper, "-S", "--needed", "--noconfirm", "multipass")
            steps.append(Step("install Multipass from the AUR", argv))
        elif "snap" in facts.present:
            steps.append(Step("install Multipass", ("snap", "install", "multipass"), sudo=True))
        else:
            manual = (
                "install Multipass from the AUR (https://aur.archlinux.org/packages/multipass) "
                "or install snapd and run this again",
            )
    return Plan("Arch Linux", tuple(steps), manual)


def command_line(step: Step, facts: HostFacts) -> list[str]:
    prefix = ["sudo"] if step.sudo and not facts.is_root else []
    return [*prefix, *step.argv]


def run_plan(
    plan: Plan,
    facts: HostFacts,
    reporter: Reporter,
) -> None:
    """Run each step; the first failure stops with the step's own words."""
    for step in plan.steps:
        argv = command_line(step, facts)
        reporter.info(f"{step.description}: {' '.join(argv)}")
        _run_step(argv)
    if plan.manual:
        raise AgsekitError(
            "some things cannot be installed automatically: " + "; ".join(plan.manual)
        )


def _run_step(argv: list[str]) -> None:
    # stdin stays the terminal so that sudo can ask for a password.
    run(argv, stdin=None, what=" ".join(argv[:3]), env={"DEBIAN_FRONTEND": "noninteractive"})
