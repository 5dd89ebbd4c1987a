"""The double's behaviour, pinned to Multipass 1.16 (messages, exit codes, JSON shapes).

Run with AGSEKIT_TEST_REAL_MULTIPASS=1 to check the same expectations against a real
Multipass; tests that need one of the double's switches are then skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.vm.conftest import REAL, Multipass, fake_only

# Runs against the double, or a real Multipass with AGSEKIT_TEST_REAL_MULTIPASS=1.
pytestmark = pytest.mark.real_multipass


def test_launch_list_info_json_shapes(multipass: Multipass) -> None:
    name = multipass.launch()
    listed = json.loads(multipass.ok("list", "--format", "json"))
    entry = next(item for item in listed["list"] if item["name"] == name)
    assert set(entry) == {"ipv4", "name", "release", "state"}
    assert entry["state"] == "Running"
    info = json.loads(multipass.ok("info", "--format", "json", name))
    assert info["errors"] == []
    details = info["info"][name]
    assert details["state"] == "Running"
    assert details["cpu_count"] == "1"
    assert isinstance(details["memory"]["total"], int)
    disk = next(iter(details["disks"].values()))
    assert isinstance(disk["total"], str)
    assert details["mounts"] == {}


def test_stopped_instance_has_empty_runtime_fields(multipass: Multipass) -> None:
    name = multipass.launch()
    multipass.ok("stop", name)
    multipass.ok("stop", name)  # stopping a stopped instance succeeds
    details = json.loads(multipass.ok("info", "--format", "json", name))["info"][name]
    assert details["state"] == "Stopped"
    assert details["cpu_count"] == ""
    assert details["memory"] == {}
    assert details["ipv4"] == []


def test_get_prints_configured_sizes_with_one_decimal(multipass: Multipass) -> None:
    name = multipass.launch()
    assert multipass.ok("get", f"local.{name}.cpus").strip() == "1"
    assert multipass.ok("get", f"local.{name}.memory").strip() == "512.0MiB"
    assert multipass.ok("get", f"local.{name}.disk").strip() == "3.0GiB"


def test_set_needs_a_stopped_instance_and_disk_only_grows(multipass: Multipass) -> None:
    name = multipass.launch()
    running = multipass.run("set", f"local.{name}.cpus=2")
    assert running.returncode == 2
    assert running.stderr.strip() == (
        f"set failed: Cannot update instance settings; instance: {name}; "
        "reason: Instance must be stopped for modification"
    )
    multipass.ok("stop", name)
    multipass.ok("set", f"local.{name}.cpus=2")
    multipass.ok("set", f"local.{name}.disk=4G")
    shrink = multipass.run("set", f"local.{name}.disk=3G")
    assert shrink.returncode == 2
    assert shrink.stderr.strip() == (
        f"set failed: Invalid setting 'local.{name}.disk=3G': Disk can only be expanded"
    )
    assert multipass.ok("get", f"local.{name}.cpus").strip() == "2"
    assert multipass.ok("get", f"local.{name}.disk").strip() == "4.0GiB"


def test_launch_validation_messages_and_codes(multipass: Multipass) -> None:
    name = multipass.new_name()
    bad_size = multipass.run("launch", "--name", name, "--memory", "4T")
    assert bad_size.returncode == 1
    assert "4T is not a valid memory size - need a non-negative integer" in bad_size.stderr
    bad_cpus = multipass.run("launch", "--name", name, "--cpus", "zero")
    assert bad_cpus.returncode == 1
    assert "Error: invalid CPU count 'zero', need a positive integer value." in bad_cpus.stderr
    too_small = multipass.run("launch", "--name", name, "--memory", "64M")
    assert too_small.returncode == 2
    assert too_small.stderr.splitlines()[:2] == [
        "launch failed: Invalid arguments supplied",
        "Invalid memory size value supplied: 64M.",
    ]


def test_deleted_name_blocks_relaunch_until_purged(multipass: Multipass) -> None:
    name = multipass.launch()
    again = multipass.run("launch", "--name", name)
    assert again.returncode == 2
    assert again.stderr.strip() == f'launch failed: instance "{name}" already exists'
    multipass.ok("delete", name)
    listed = json.loads(multipass.ok("list", "--format", "json"))["list"]
    assert {"name": name, "state": "Deleted"}.items() <= next(
        i for i in listed if i["name"] == name
    ).items()
    assert multipass.run("launch", "--name", name).returncode == 2
    start = multipass.run("start", name)
    assert start.returncode == 2
    assert f'instance "{name}" is deleted' in start.stderr
    multipass.ok("delete", "--purge", name)
    multipass.launch(name)


def test_missing_instance_messages(multipass: Multipass) -> None:
    start = multipass.run("start", "no-such-vm")
    assert start.returncode == 2
    assert start.stderr.splitlines() == [
        "start failed: instance(s) missing",
        "Instance 'no-such-vm' does not exist.",
    ]
    stop = multipass.run("stop", "no-such-vm")
    assert stop.returncode == 2
    assert stop.stderr.splitlines() == [
        "stop failed: The following errors occurred:",
        'instance "no-such-vm" does not exist',
    ]


def test_mount_and_umount_messages(multipass: Multipass, workdir: Path) -> None:
    name = multipass.launch()
    source = workdir / "proj"
    source.mkdir(parents=True)
    missing = multipass.run("mount", str(workdir / "nope"), name)
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f'mount failed: Mount source path "{workdir / "nope"}" does not exist.'
    )
    assert multipass.run("mount", str(source), "no-such-vm").stderr.strip() == (
        "mount failed: instance 'no-such-vm' does not exist"
    )
    forbidden = multipass.run("mount", str(source), f"{name}:/home/ubuntu")
    assert forbidden.stderr.strip() == 'mount failed: unable to mount to "/home/ubuntu"'
    multipass.ok("mount", str(source), name)  # default target: /home/ubuntu/<basename>
    twice = multipass.run("mount", str(source), name)
    assert twice.stderr.strip() == (
        f"mount failed: \"/home/ubuntu/proj\" is already mounted in '{name}'"
    )
    mounts = json.loads(multipass.ok("info", "--format", "json", name))["info"][name]["mounts"]
    assert mounts["/home/ubuntu/proj"]["source_path"] == str(source)
    multipass.ok("umount", f"{name}:/home/ubuntu/proj")
    again = multipass.run("umount", f"{name}:/home/ubuntu/proj")
    assert again.returncode == 2
    assert again.stderr.strip() == (
        f"umount failed: path \"/home/ubuntu/proj\" is not mounted in '{name}'"
    )


def test_exec_returns_the_guest_status_and_honours_workdir(
    multipass: Multipass, workdir: Path
) -> None:
    name = multipass.launch()
    assert multipass.run("exec", "-n", name, "--", "sh", "-c", "exit 7").returncode == 7
    assert multipass.ok("exec", "-n", name, "--", "pwd").strip() == "/home/ubuntu"
    assert multipass.ok("exec", "-d", "/tmp", name, "--", "pwd").strip() == "/tmp"
    # arguments are passed one by one, not re-split by a shell
    assert multipass.ok("exec", "-n", name, "--", "echo", "a  b", "$HOME").strip() == "a  b $HOME"
    echoed = multipass.run("exec", "-n", name, "--", "cat", input="from stdin\n")
    assert echoed.stdout == "from stdin\n"


def test_exec_maps_the_host_cwd_inside_a_mount(multipass: Multipass, workdir: Path) -> None:
    name = multipass.launch()
    (workdir / "proj" / "sub").mkdir(parents=True)
    multipass.ok("mount", str(workdir / "proj"), f"{name}:/home/ubuntu/code")
    mapped = multipass.ok("exec", name, "--", "pwd", cwd=workdir / "proj" / "sub")
    assert mapped.strip() == "/home/ubuntu/code/sub"


def test_exec_starts_a_stopped_instance(multipass: Multipass) -> None:
    name = multipass.launch()
    multipass.ok("stop", name)
    assert multipass.ok("exec", "-n", name, "--", "echo", "up").strip() == "up"
    listed = json.loads(multipass.ok("list", "--format", "json"))["list"]
    assert next(i for i in listed if i["name"] == name)["state"] == "Running"


@fake_only
def test_daemon_down(multipass: Multipass) -> None:
    multipass.switch("daemon-down")
    listed = multipass.run("list", "--format", "json")
    assert listed.returncode == 2
    assert listed.stderr.strip() == "list failed: cannot connect to the multipass socket"
    version = json.loads(multipass.ok("version", "--format", "json"))
    assert "multipassd" not in version
    assert version["multipass"]


@fake_only
def test_failed_mount_reactivation_drops_the_mount(multipass: Multipass, workdir: Path) -> None:
    name = multipass.launch()
    (workdir / "proj").mkdir(parents=True)
    multipass.ok("mount", str(workdir / "proj"), name)
    multipass.ok("stop", name)
    multipass.switch("drop-mounts-on-start")
    multipass.ok("start", name)
    info = json.loads(multipass.ok("info", "--format", "json", name))
    assert info["info"][name]["mounts"] == {}


@fake_only
def test_snap_confinement_makes_paths_outside_home_look_missing(
    multipass: Multipass, workdir: Path
) -> None:
    name = multipass.launch()
    (workdir / "proj").mkdir(parents=True)
    multipass.switch("snap-confinement")
    result = multipass.run("mount", str(workdir / "proj"), name)
    assert result.returncode == 2
    assert "does not exist." in result.stderr


@pytest.mark.skipif(not REAL, reason="set AGSEKIT_TEST_REAL_MULTIPASS=1 to use a real Multipass")
def test_a_real_multipass_answers(multipass: Multipass) -> None:
    version = json.loads(multipass.ok("version", "--format", "json"))
    assert version["multipassd"].startswith("1.")
