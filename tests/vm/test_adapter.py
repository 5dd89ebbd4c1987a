"""tools/multipass.py against the double: typed results, and failures as one sentence + fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from agsekit.tools import multipass as mp
from tests.vm.conftest import Multipass, fake_only

# Runs against the double, or a real Multipass with AGSEKIT_TEST_REAL_MULTIPASS=1.
pytestmark = pytest.mark.real_multipass


def test_info_and_configured_resources(in_process_multipass: Multipass, workdir: Path) -> None:
    name = in_process_multipass.new_name()
    mp.launch(name, cpus=1, memory="512M", disk="3G")
    (workdir / "proj").mkdir(parents=True)
    mp.mount(workdir / "proj", name, "/home/ubuntu/proj")
    info = mp.info(name)
    assert info.state == "Running"
    assert info.cpu_count == 1
    assert info.mounts == (mp.MountInfo("/home/ubuntu/proj", str(workdir / "proj")),)
    assert mp.get_configured(name) == mp.ConfiguredResources(1, 512 * 1024**2, 3 * 1024**3)
    assert any(i.name == name for i in mp.list_instances())
    mp.stop(name)
    assert mp.info(name).cpu_count is None


def test_exec_captured_returns_guest_status(in_process_multipass: Multipass) -> None:
    name = in_process_multipass.new_name()
    mp.launch(name, cpus=1, memory="512M", disk="3G")
    result = mp.exec_captured(name, ["sh", "-c", "echo out; exit 2"])
    assert (result.returncode, result.stdout) == (2, "out\n")  # a guest 2 is not a failure
    assert mp.exec_captured(name, ["cat"], input="piped").stdout == "piped"
    assert mp.exec_captured(name, ["pwd"], workdir="/tmp").stdout == "/tmp\n"


def test_missing_instance_is_a_typed_error_with_a_fix(in_process_multipass: Multipass) -> None:
    with pytest.raises(mp.InstanceNotFoundError) as info:
        mp.start("absent-vm")
    assert info.value.message == "the VM absent-vm does not exist in Multipass"
    assert info.value.hint == "create it with `agsekit create-vm absent-vm`"
    with pytest.raises(mp.InstanceNotFoundError):
        mp.exec_captured("absent-vm", ["true"])
    with pytest.raises(mp.InstanceNotFoundError):
        mp.get_configured("absent-vm")


def test_resize_rules(in_process_multipass: Multipass) -> None:
    name = in_process_multipass.new_name()
    mp.launch(name, cpus=1, memory="512M", disk="3G")
    with pytest.raises(mp.MustBeStoppedError) as info:
        mp.set_setting(name, "cpus", "2")
    assert info.value.hint == f"stop it first: `agsekit stop-vm {name}`"
    mp.stop(name)
    with pytest.raises(mp.MultipassError) as shrink:
        mp.set_setting(name, "disk", "1G")
    assert "Disk can only be expanded" in shrink.value.message


def test_deleted_instance_says_to_purge(in_process_multipass: Multipass) -> None:
    name = in_process_multipass.new_name()
    mp.launch(name, cpus=1, memory="512M", disk="3G")
    in_process_multipass.ok("delete", name)
    with pytest.raises(mp.InstanceExistsError) as info:
        mp.launch(name, cpus=1, memory="512M", disk="3G")
    assert f"agsekit destroy-vm {name}" in (info.value.hint or "")
    mp.delete_purge(name)
    assert all(i.name != name for i in mp.list_instances())


@fake_only
def test_daemon_down_becomes_one_sentence(in_process_multipass: Multipass) -> None:
    in_process_multipass.switch("daemon-down")
    with pytest.raises(mp.DaemonUnavailableError) as info:
        mp.list_instances()
    assert info.value.message.startswith("the Multipass daemon is not running: ")
    assert "snap restart multipass" in (info.value.hint or "")
    assert mp.version().daemon is None


@fake_only
def test_snap_confined_source_is_explained(in_process_multipass: Multipass, workdir: Path) -> None:
    name = in_process_multipass.new_name()
    mp.launch(name, cpus=1, memory="512M", disk="3G")
    (workdir / "proj").mkdir(parents=True)
    in_process_multipass.switch("snap-confinement")
    with pytest.raises(mp.MountSourceMissingError) as info:
        mp.mount(workdir / "proj", name, "/home/ubuntu/proj")
    assert "although it exists on this host" in info.value.message
    assert "under /home" in (info.value.hint or "")


def test_not_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(mp.MultipassNotInstalledError) as info:
        mp.list_instances()
    assert info.value.hint == "run `agsekit prepare` to install Multipass"


def test_spinner_codes_are_removed_from_messages() -> None:
    stderr = (
        '\r\x1b[2K\x1b[0mstart failed: The following errors occurred:\ninstance "x" is deleted\n'
    )
    assert mp.multipass_words(stderr, "start") == 'instance "x" is deleted'
