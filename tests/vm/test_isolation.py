"""The double's `exec` is a real sandbox: only the mounts of the host are visible."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.vm.conftest import Multipass

# Runs against the double, or a real Multipass with AGSEKIT_TEST_REAL_MULTIPASS=1.
pytestmark = pytest.mark.real_multipass


def mounted(multipass: Multipass, workdir: Path) -> tuple[str, Path]:
    name = multipass.launch()
    source = workdir / "proj"
    source.mkdir(parents=True)
    multipass.ok("mount", str(source), f"{name}:/home/ubuntu/proj")
    return name, source


def test_guest_cannot_read_host_files_outside_the_mounts(
    multipass: Multipass, workdir: Path
) -> None:
    name, _ = mounted(multipass, workdir)
    secret = workdir / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("host secret")
    result = multipass.run("exec", "-n", name, "--", "cat", str(secret))
    assert result.returncode != 0
    assert "host secret" not in result.stdout
    home = Path(multipass.env["HOME"])
    (home / "host-home-file").write_text("x")
    listing = multipass.run("exec", "-n", name, "--", "ls", "-a", str(home))
    assert "host-home-file" not in listing.stdout


def test_deleting_in_the_mount_deletes_on_the_host(multipass: Multipass, workdir: Path) -> None:
    name, source = mounted(multipass, workdir)
    (source / "keep.txt").write_text("keep")
    (source / "doomed").mkdir()
    (source / "doomed" / "file.txt").write_text("bye")
    multipass.ok("exec", "-n", name, "--", "rm", "-rf", "/home/ubuntu/proj/doomed")
    assert not (source / "doomed").exists()
    assert (source / "keep.txt").read_text() == "keep"


def test_guest_writes_appear_on_the_host(multipass: Multipass, workdir: Path) -> None:
    name, source = mounted(multipass, workdir)
    multipass.ok(
        "exec", "-d", "/home/ubuntu/proj", name, "--", "sh", "-c", "echo made-in-vm > new.txt"
    )
    assert (source / "new.txt").read_text() == "made-in-vm\n"


def test_guest_home_persists_between_execs_and_host_home_is_not_it(
    multipass: Multipass,
) -> None:
    name = multipass.launch()
    multipass.ok("exec", "-n", name, "--", "sh", "-c", "echo kept > ~/note")
    assert multipass.ok("exec", "-n", name, "--", "cat", "/home/ubuntu/note") == "kept\n"
    assert not (Path(multipass.env["HOME"]) / "note").exists()
