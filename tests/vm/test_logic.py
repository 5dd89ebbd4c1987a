"""Pure VM logic: config vs actual resources, host capacity, snap rule, install plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from agsekit.config.model import MountSpec, RetentionPolicy, VmSpec
from agsekit.vm.backend import ActiveMount, Resources
from agsekit.vm.capacity import HostCapacity, capacity_problems
from agsekit.vm.confinement import snap_problem
from agsekit.vm.prerequisites import (
    HostFacts,
    UnsupportedSystemError,
    command_line,
    make_plan,
)
from agsekit.vm.reconcile import compare_mounts, plan_resize, resource_differences

GIB = 1024**3


def vm(cpu: int = 2, ram: str = "4G", disk: str = "20G", name: str = "a") -> VmSpec:
    return VmSpec(name, cpu, ram, disk)


def test_differences_use_multipass_precision() -> None:
    assert resource_differences(vm(), Resources(2, 4 * GIB, 20 * GIB)) == ()
    assert resource_differences(vm(ram="4096M"), Resources(2, 4 * GIB, 20 * GIB)) == ()
    diffs = resource_differences(vm(), Resources(1, 2 * GIB, 20 * GIB))
    assert [(d.field, d.configured, d.actual) for d in diffs] == [
        ("cpu", "2", "1"),
        ("ram", "4.0GiB", "2.0GiB"),
    ]


def test_resize_plan_never_shrinks_a_disk() -> None:
    grow = plan_resize(vm(disk="30G"), Resources(2, 4 * GIB, 20 * GIB))
    assert (grow.disk, grow.impossible) == ("30G", ())
    shrink = plan_resize(vm(cpu=4, disk="10G"), Resources(2, 4 * GIB, 20 * GIB))
    assert shrink.cpus == 4
    assert shrink.disk is None
    assert "disk cannot shrink from 20.0GiB to 10.0GiB" in shrink.impossible[0]


def test_capacity_keeps_one_cpu_and_one_gib_for_the_host() -> None:
    host = HostCapacity(cpus=4, memory=8 * GIB)
    assert capacity_problems([vm(cpu=3, ram="7G")], host) == []
    problems = capacity_problems([vm(cpu=2, ram="4G"), vm(cpu=2, ram="4G", name="b")], host)
    assert len(problems) == 2
    assert "use 4 CPUs in total, but this host has 4" in problems[0]
    assert "8.0GiB of RAM" in problems[1]


def test_snap_rule(tmp_path: Path) -> None:
    assert snap_problem("/home/me/proj") is None
    assert "outside /home" in (snap_problem("/srv/proj") or "")
    assert "hidden folder .config" in (snap_problem("/home/me/.config/proj") or "")
    assert "removable-media" in (snap_problem("/media/usb/proj") or "")
    # symlinks are judged by where they lead
    (tmp_path / "home" / "me").mkdir(parents=True)
    (tmp_path / "home" / "me" / "link").symlink_to("/srv")
    assert snap_problem(tmp_path / "home" / "me" / "link", home_root=str(tmp_path / "home"))


def mount(source: str, target: str) -> MountSpec:
    return MountSpec(Path(source), target, Path("/b"), 5, "a", RetentionPolicy())


def test_compare_mounts() -> None:
    ok, moved, gone = mount("/p/a", "/home/ubuntu/a"), mount("/p/b", "/x"), mount("/p/c", "/c")
    result = compare_mounts(
        [ok, moved, gone],
        [
            ActiveMount("/p/a", "/home/ubuntu/a/"),
            ActiveMount("/elsewhere", "/x"),
            ActiveMount("/z", "/z"),
        ],
    )
    assert result.active == (ok,)
    assert result.missing == (moved, gone)
    assert {m.target for m in result.unexpected} == {"/x", "/z"}


def facts(
    system: str = "Linux",
    os_id: str = "ubuntu",
    present: tuple[str, ...] = (),
    kernel: str = "6.8.0",
    root: bool = False,
) -> HostFacts:
    return HostFacts(system, {"ID": os_id}, kernel, frozenset(present), root)


def test_debian_plan_installs_only_what_is_missing() -> None:
    plan = make_plan(facts(present=("apt-get",)))
    lines = [" ".join(command_line(s, facts())) for s in plan.steps]
    assert lines == [
        "sudo apt-get update",
        "sudo apt-get install -y openssh-client snapd",
        "sudo snap wait system seed.loaded",
        "sudo snap install multipass",
    ]
    done = make_plan(facts(present=("multipass", "ssh")))
    assert done.nothing_to_do
    as_root = make_plan(facts(present=("snap", "ssh"), root=True))
    assert [command_line(s, facts(root=True)) for s in as_root.steps] == [
        ["snap", "install", "multipass"]
    ]


def test_macos_and_arch_plans() -> None:
    mac = make_plan(facts(system="Darwin", present=("brew", "ssh")))
    assert [s.argv for s in mac.steps] == [("brew", "install", "--cask", "multipass")]
    assert not any(s.sudo for s in mac.steps)
    no_brew = make_plan(facts(system="Darwin", present=("ssh",)))
    assert "Homebrew" in no_brew.manual[0]
    arch = make_plan(facts(os_id="arch", present=("pacman", "yay")))
    assert [s.argv[0] for s in arch.steps] == ["pacman", "yay"]


def test_unsupported_systems() -> None:
    with pytest.raises(UnsupportedSystemError, match="WSL"):
        make_plan(facts(kernel="5.15.90.1-microsoft-standard-WSL2"))
    with pytest.raises(UnsupportedSystemError, match="Fedora"):
        make_plan(
            HostFacts(
                "Linux", {"ID": "fedora", "PRETTY_NAME": "Fedora 40"}, "6", frozenset(), False
            )
        )
    with pytest.raises(UnsupportedSystemError):
        make_plan(facts(system="Windows"))
