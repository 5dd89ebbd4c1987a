"""The VM commands end to end: `agsekit ...` as a subprocess against the Multipass double."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.vm.conftest import REAL, Multipass, agsekit, fake_only

# Runs against the double, or a real Multipass with AGSEKIT_TEST_REAL_MULTIPASS=1.
pytestmark = pytest.mark.real_multipass


class Setup:
    def __init__(self, multipass: Multipass, workdir: Path, tmp_path: Path) -> None:
        self.mp = multipass
        self.vm = multipass.new_name()
        self.source = workdir / "proj"
        self.source.mkdir(parents=True)
        (self.source / "code.py").write_text("print('hi')\n")
        self.backup = workdir / "backups-proj"
        self.config = tmp_path / "config.yaml"
        self.write_config()

    def write_config(self, cpu: int = 1, ram: str = "512M", disk: str = "3G") -> None:
        self.config.write_text(
            f"vms:\n  {self.vm}:\n    cpu: {cpu}\n    ram: {ram}\n    disk: {disk}\n"
            "    cloud-init:\n      packages: [git]\n"
            f"mounts:\n  - source: {self.source}\n    backup: {self.backup}\n"
            "    target: /home/ubuntu/proj\n"
        )

    def run(self, *args: str, input: str | None = None) -> tuple[int, str, str]:
        result = agsekit(self.mp.env, *args, "--config", str(self.config), input=input)
        assert "Traceback" not in result.stderr
        return result.returncode, result.stdout, result.stderr

    def ok(self, *args: str) -> str:
        code, out, err = self.run(*args)
        assert code == 0, err
        return out

    def status(self) -> dict[str, object]:
        vms = json.loads(self.ok("status", "--json"))["vms"]
        assert isinstance(vms, list)
        entry = vms[0]
        assert isinstance(entry, dict)
        return entry


@pytest.fixture
def setup(multipass: Multipass, workdir: Path, tmp_path: Path) -> Setup:
    return Setup(multipass, workdir, tmp_path)


def test_workflow_create_mount_status_resize_destroy(setup: Setup) -> None:
    out = setup.ok("create-vms")
    assert f"VM {setup.vm} created" in out
    if not REAL:
        state = json.loads((setup.mp.state / "state.json").read_text())
        assert state["instances"][setup.vm]["cloud_init"].startswith("#cloud-config\n")
        assert "git" in state["instances"][setup.vm]["cloud_init"]
        assert not list(Path(setup.mp.env["HOME"]).glob("agsekit-cloud-init-*"))
    status = setup.status()
    assert status["state"] == "Running"
    assert status["mounts"] == [
        {
            "source": str(setup.source),
            "target": "/home/ubuntu/proj",
            "active": False,
            "backup": str(setup.backup),
            "latest_snapshot": None,
            "latest_age_seconds": None,
            "backup_loop_running": False,
            "store_free_bytes": None,
            "store_total_bytes": None,
            "store_free_inodes": None,
            "store_total_inodes": None,
            "left_out": [],
            "problem": None,
            "service": None,
        }
    ]

    assert f"mounted {setup.source} at {setup.vm}:/home/ubuntu/proj" in setup.ok("mount", "--all")
    seen = setup.mp.ok("exec", "-n", setup.vm, "--", "cat", "/home/ubuntu/proj/code.py")
    assert seen == "print('hi')\n"
    (setup.backup / "20261128T093005Z").mkdir(parents=True)
    status = setup.status()
    mounts = status["mounts"]
    assert isinstance(mounts, list)
    assert mounts[0]["active"] is True
    assert mounts[0]["latest_snapshot"] == "20261128T093005Z"
    text = setup.ok("status")
    assert f"mount {setup.source} -> /home/ubuntu/proj: mounted; latest snapshot" in text
    assert "no backup loop running" in text

    assert "already exists and matches the config" in setup.ok("create-vms")
    setup.write_config(cpu=2, disk="4G")
    compared = setup.ok("create-vm", setup.vm)
    assert "cpu: 2 in the config, 1 in the VM" in compared
    assert "disk: 4.0GiB in the config, 3.0GiB in the VM" in compared

    resized = setup.ok("resize-vm", setup.vm, "--yes")
    assert f"VM {setup.vm} now has the configured cpu 2, disk 4G" in resized
    status = setup.status()
    assert status["state"] == "Running"
    assert status["differences"] == []
    assert isinstance(status["mounts"], list)
    assert status["mounts"][0]["active"] is True

    code, _, err = setup.run("destroy-vm", setup.vm)
    assert code == 2
    assert "pass --yes" in err
    assert "deleted and purged" in setup.ok("destroy-vm", setup.vm, "--yes")
    assert setup.status()["state"] == "Absent"
    assert (setup.source / "code.py").exists()


def test_disk_shrink_is_reported_not_applied(setup: Setup) -> None:
    setup.ok("create-vms")
    setup.write_config(disk="1G")
    code, _, err = setup.run("resize-vm", setup.vm, "--yes")
    assert code == 0
    assert "disk cannot shrink from 3.0GiB to 1.0GiB" in err


def test_stop_and_start_keep_mounts(setup: Setup) -> None:
    setup.ok("create-vms")
    setup.ok("mount", str(setup.source))
    assert f"stopping VM {setup.vm}" in setup.ok("stop-vm", "--all")
    assert "already stopped" in setup.ok("stop-vm", setup.vm)
    if not REAL:
        setup.mp.switch("drop-mounts-on-start")
    out = setup.ok("start-vm", setup.vm)
    assert f"starting VM {setup.vm}" in out
    status = setup.status()
    assert status["state"] == "Running"
    assert isinstance(status["mounts"], list)
    assert status["mounts"][0]["active"] is True
    setup.ok("restart-vm", setup.vm)
    assert setup.ok("umount", "--all").startswith(f"unmounted {setup.source}")
    assert "is not mounted" in setup.ok("umount", str(setup.source))


@fake_only
def test_daemon_down_is_one_clear_sentence(setup: Setup) -> None:
    setup.mp.switch("daemon-down")
    code, out, err = setup.run("status")
    assert code == 1
    assert err.splitlines()[0] == (
        "agsekit: error: the Multipass daemon is not running: multipass cannot connect to "
        "its socket"
    )
    assert err.splitlines()[1].startswith("  hint: start it")
    code, out, _ = setup.run("doctor")
    assert code == 1
    assert "PROBLEM  the Multipass daemon is not running" in out


def test_multipass_not_installed(setup: Setup, tmp_path: Path) -> None:
    env = {**setup.mp.env, "PATH": str(tmp_path / "empty")}
    result = agsekit(env, "create-vms", "--config", str(setup.config))
    assert result.returncode == 127
    assert result.stderr == (
        "agsekit: error: Multipass is not installed or not on PATH\n"
        "  hint: run `agsekit prepare` to install Multipass\n"
    )


@fake_only
def test_capacity_is_checked_before_launching(setup: Setup) -> None:
    setup.write_config(cpu=4096)
    code, _, err = setup.run("create-vms")
    assert code == 1
    assert "must keep 1 for itself" in err
    assert "--ignore-capacity" in err
    assert setup.status()["state"] == "Absent"
    code, _, err = setup.run("create-vms", "--ignore-capacity")
    assert code == 0
    assert "warning: the configured VMs use 4096 CPUs" in err


@fake_only
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the snap rule is Linux-only")
def test_mount_outside_home_warns_with_the_snap_rule(setup: Setup) -> None:
    setup.ok("create-vms")
    code, _, err = setup.run("mount", "--all")
    assert code == 0
    assert "outside /home: Multipass on Linux is a snap" in err
    setup.ok("umount", "--all")
    setup.mp.switch("snap-confinement")
    code, _, err = setup.run("mount", "--all")
    assert code == 1
    assert f"Multipass cannot see {setup.source}, although it exists on this host" in err


def test_doctor_reports_missing_mounts_partials_and_hard_links(setup: Setup) -> None:
    setup.ok("create-vms")
    (setup.backup / "20261128T093005Z-partial").mkdir(parents=True)
    code, out, _ = setup.run("doctor")
    assert code == 1
    assert f"PROBLEM  {setup.source} is configured but not mounted in {setup.vm}" in out
    assert "fix: run `agsekit mount --all`" in out
    assert "1 interrupted snapshot(s): 20261128T093005Z-partial" in out
    assert f"ok       hard links work on the filesystem of {setup.backup}" in out
    setup.ok("mount", "--all")
    code, out, _ = setup.run("doctor")
    assert code == 0, out
    assert f"{setup.source} is mounted at {setup.vm}:/home/ubuntu/proj" in out
    if not REAL:
        setup.mp.switch("broken-mounts")
        code, out, _ = setup.run("doctor")
        assert code == 1
        assert f"{setup.source} has files but {setup.vm}:/home/ubuntu/proj looks empty" in out


def test_doctor_runs_the_fast_store_check_and_reports_damage(setup: Setup) -> None:
    setup.ok("create-vms")
    setup.ok("mount", "--all")
    taken = agsekit(
        setup.mp.env, "backup-once", "--source-dir", str(setup.source),
        "--dest-dir", str(setup.backup),
    )  # fmt: skip
    assert taken.returncode == 0, taken.stderr
    (name,) = (p.name for p in setup.backup.iterdir() if not p.name.startswith("."))
    code, out, _ = setup.run("doctor")
    assert code == 0, out
    assert f"ok       the 1 snapshot(s) in {setup.backup} are as recorded" in out
    (setup.backup / name / "code.py").unlink()  # a file gone from inside the snapshot
    code, out, _ = setup.run("doctor")
    assert code == 1
    assert (
        f"PROBLEM  1 of 1 snapshot(s) in {setup.backup} differ from what was recorded: {name}\n"
        f"         fix: see the details with `agsekit backup-check --dest-dir {setup.backup}`"
    ) in out


def test_shell_runs_in_the_vm(setup: Setup) -> None:
    setup.ok("create-vms")
    code, out, _ = setup.run("shell", setup.vm, input="echo inside-$(hostname)\n")
    assert code == 0
    if not REAL:
        assert f"inside-{setup.vm}" in out


def test_unknown_names_and_paths_are_usage_errors(setup: Setup, tmp_path: Path) -> None:
    code, _, err = setup.run("start-vm", "nope")
    assert code == 2
    assert f"no VM named nope in the config (configured: {setup.vm})" in err
    code, _, err = setup.run("mount", str(tmp_path))
    assert code == 2
    assert "is not inside a configured mount" in err
    code, _, err = setup.run("stop-vm", setup.vm)
    assert code == 1
    assert f"the VM {setup.vm} does not exist yet" in err
    assert f"agsekit create-vm {setup.vm}" in err


@pytest.mark.skipif(
    not (shutil.which("ssh") and os.path.exists("/usr/bin/apt-get")),
    reason="needs a Debian-like host that already has ssh",
)
def test_prepare_is_idempotent_when_everything_is_installed(setup: Setup) -> None:
    # stdin is not a terminal and --yes is absent: even a wrong plan would not be run
    result = agsekit(setup.mp.env, "prepare")
    assert result.returncode == 0, result.stderr
    assert "nothing to do" in result.stdout


def test_destroy_vm_all_deletes_every_configured_vm_that_exists(
    setup: Setup, multipass: Multipass
) -> None:
    other = multipass.new_name()
    setup.config.write_text(
        setup.config.read_text().replace("mounts:", f"  {other}:\n    cpu: 1\nmounts:", 1)
    )
    multipass.launch(setup.vm)
    stranger = multipass.launch()  # a VM the config does not name
    code, _, err = setup.run("destroy-vm")
    assert code == 2
    assert "no VM was named" in err and "give its name, or --all" in err
    code, _, err = setup.run("destroy-vm", setup.vm, "--all")
    assert code == 2
    assert "not both" in err
    code, _, err = setup.run("destroy-vm", "--all")
    assert code == 2
    assert f"Delete the VMs {setup.vm} and everything" in err  # the absent one is not named
    out = setup.ok("destroy-vm", "--all", "--yes")
    assert f"VM {setup.vm} deleted and purged" in out
    assert other not in out
    listed = json.loads(multipass.ok("list", "--format", "json"))["list"]
    assert [vm["name"] for vm in listed] == [stranger]
    assert (setup.source / "code.py").exists()
    assert "nothing to delete" in setup.ok("destroy-vm", "--all", "--yes")


def test_config_rules_take_a_snapshot_and_status_shows_room_and_what_is_left_out(
    setup: Setup,
) -> None:
    """End to end with the config's host-side rules: `mounts[].exclude` leaves out what it
    names, and `ignore_files: host` means the tree's .backupignore (which an agent can
    edit) is not read. `status` then shows the store's free space and inodes, and ends
    the mount with the live paths no snapshot holds: the first ten, then a count."""
    (setup.source / ".backupignore").write_text("code.py\n")  # not read: host rules only
    secrets = [f"key{index:02}.secret" for index in range(12)]
    for name in secrets:
        (setup.source / name).write_text("not for the store\n")
    setup.config.write_text(
        f"vms:\n  {setup.vm}:\n    cpu: 1\n    ram: 512M\n    disk: 3G\n"
        f"mounts:\n  - source: {setup.source}\n    backup: {setup.backup}\n"
        "    target: /home/ubuntu/proj\n    exclude: ['*.secret']\n    ignore_files: host\n"
    )
    setup.ok("create-vms")
    loop = subprocess.Popen(
        [sys.executable, "-m", "agsekit", "backup-repeated-mount", "--mount", str(setup.source),
         "--config", str(setup.config)],
        env=setup.mp.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert loop.stdout is not None
        first = loop.stdout.readline()
        assert first.startswith("Snapshot "), first + (loop.stderr.read() if loop.stderr else "")
    finally:
        loop.send_signal(signal.SIGINT)
        loop.communicate(timeout=30)
    (snapshot,) = (p for p in setup.backup.iterdir() if not p.name.startswith("."))
    assert sorted(p.name for p in snapshot.iterdir()) == [".backupignore", "code.py"]
    assert (snapshot / "code.py").read_text() == "print('hi')\n"

    mount = setup.status()["mounts"]
    assert isinstance(mount, list)
    seen = mount[0]
    room = os.statvfs(setup.backup)
    assert seen["store_total_bytes"] == room.f_blocks * room.f_frsize
    assert seen["store_total_inodes"] == room.f_files
    assert isinstance(seen["store_free_bytes"], int) and isinstance(seen["store_free_inodes"], int)
    assert abs(seen["store_free_bytes"] - room.f_bavail * room.f_frsize) < 64 << 20
    assert abs(seen["store_free_inodes"] - room.f_favail) < 1000
    assert seen["left_out"] == secrets

    lines = setup.ok("status").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  mount {setup.source}"))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("    "):
            break
        block.append(line)
    assert block[1].startswith(f"    store {setup.backup}: ")
    assert block[1].endswith(f" of {room.f_files} inodes free")
    assert " free, " in block[1]
    assert block[-1] == (
        "    Left out by the ignore rules, so in no snapshot: 12 path(s): "
        + ", ".join(secrets[:10])
        + " and 2 more"
    )
