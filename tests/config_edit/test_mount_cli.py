"""addmount and removemount through the real CLI, on real config files: every byte that
is not the edited entry stays, the .bak is the old file, nothing is written on a dry run,
an invalid result or without a confirmation."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import run_cli

BAK = re.compile(r"config\.yaml\.\d{8}T\d{6}Z(-\d+)?\.bak")

HEAD = """\
# my agsekit config: keep these notes!
vms:
  dev:            # the dev box
    cpu: 1
    ram: "512M"   # quoted on purpose
    disk:   3G

mounts:   # projects
  # the main app
  - source: {app}
    backup: '{store}'    # outside sources
    exclude: [node_modules/, '*.log']
    # ignore_files: host     # maybe later
"""
TAIL = """
# policies below
retention:
  keep_daily: 7   # a week
agents:
  claude: {{type: claude}}   # flow style stays flow
"""


@dataclass
class Files:
    root: Path
    config: Path
    app: Path
    lib: Path
    store: Path

    def cli(self, *args: str, cwd: Path | None = None) -> tuple[int, str, str]:
        result = run_cli(*args, "--config", self.config, cwd=cwd, env={"HOME": str(self.home)})
        assert "Traceback" not in result.stderr
        return result.returncode, result.stdout, result.stderr

    @property
    def home(self) -> Path:
        return self.root / "home"

    def backups(self) -> list[Path]:
        return sorted(p for p in self.config.parent.iterdir() if BAK.fullmatch(p.name))


@pytest.fixture
def files(tmp_path: Path) -> Files:
    app, lib, store = tmp_path / "app", tmp_path / "lib", tmp_path / "snapshots-app"
    for folder in (app, lib, store, tmp_path / "home"):
        folder.mkdir()
    config = tmp_path / "conf" / "config.yaml"
    config.parent.mkdir()
    config.write_text(HEAD.format(app=app, store=store) + TAIL.format())
    config.chmod(0o640)
    return Files(tmp_path, config, app, lib, store)


def test_addmount_then_removemount_keep_every_other_byte(files: Files) -> None:
    original = files.config.read_bytes()
    code, out, err = files.cli("addmount", str(files.lib), "--interval", "10", "-y")
    assert code == 0, err
    added = f"  - source: {files.lib}\n    interval: 10\n"
    head = HEAD.format(app=files.app, store=files.store)
    assert files.config.read_bytes() == (head + added + TAIL.format()).encode()
    assert f"+  - source: {files.lib}\n+    interval: 10\n" in out
    assert files.config.stat().st_mode & 0o777 == 0o640
    (bak,) = files.backups()
    assert bak.read_bytes() == original
    assert bak.stat().st_mode & 0o777 == 0o640
    assert f"the previous version is kept in {bak}" in err
    with_lib = files.config.read_bytes()

    code, out, err = files.cli("removemount", str(files.lib), "-y")
    assert code == 0, err
    assert files.config.read_bytes() == original
    assert f"-  - source: {files.lib}\n" in out
    baks = files.backups()
    assert len(baks) == 2  # a second edit in the same second gets a suffix, never overwrites
    assert {b.read_bytes() for b in baks} == {original, with_lib}
    assert f"the folder {files.lib} and its snapshots in {files.lib.parent}/backups-lib" in err


def test_removemount_of_the_first_entry_leaves_the_rest(files: Files) -> None:
    assert files.cli("addmount", str(files.lib), "-y")[0] == 0
    code, _, err = files.cli("removemount", str(files.app), "-y")
    assert code == 0, err
    text = files.config.read_text()
    assert text == (
        HEAD.format(app=files.app, store=files.store).split("  - source:")[0]
        + f"  - source: {files.lib}\n"
        + TAIL.format()
    )
    assert f"the folder {files.app} and its snapshots in {files.store} stay" in err
    assert files.cli("config-check")[0] == 0


def test_removing_the_only_mount_writes_an_empty_list(files: Files) -> None:
    (files.store / "20261201T000000Z").mkdir()
    code, _, err = files.cli("removemount", "-y", cwd=files.app)
    assert code == 0, err
    left = "mounts: []   # projects\n  # the main app\n\n# policies below"
    assert left in files.config.read_text()
    assert (files.store / "20261201T000000Z").is_dir()
    assert files.app.is_dir()
    code, out, _ = files.cli("config-check")
    assert code == 0
    assert "mount " not in out


def test_dry_run_prints_the_diff_and_writes_nothing(files: Files) -> None:
    original = files.config.read_bytes()
    code, out, _ = files.cli("addmount", "--dry-run", "--target", "/srv/lib", cwd=files.lib)
    assert code == 0
    assert out.startswith(f"--- {files.config}\n+++ {files.config}\n@@")
    assert f"+  - source: {files.lib}\n+    target: /srv/lib\n" in out
    code, out, _ = files.cli("removemount", str(files.app), "--dry-run")
    assert code == 0
    assert f"-  - source: {files.app}\n" in out
    assert files.config.read_bytes() == original
    assert files.backups() == []


def test_an_invalid_result_is_refused_and_the_file_untouched(files: Files) -> None:
    original = files.config.read_bytes()
    code, _, err = files.cli("addmount", str(files.lib), "--backup", str(files.lib / "s"), "-y")
    assert code == 2
    assert "the change would make" in err
    assert "invalid, so nothing was written" in err
    assert "mounts[1].backup: the backup folder must not be inside the source" in err
    code, _, err = files.cli("addmount", str(files.home), "-y")
    assert code == 2
    assert "must not be your home folder" in err
    code, _, err = files.cli("addmount", str(files.lib), "--vm", "nope", "-y")
    assert code == 2
    assert "nope" in err
    assert files.config.read_bytes() == original
    assert files.backups() == []


def test_a_source_that_is_already_a_mount_is_named(files: Files) -> None:
    code, _, err = files.cli("addmount", str(files.app), "-y")
    assert code == 2
    assert f"{files.app} is already a mount: mounts[0] of {files.config}" in err
    assert f"snapshots in {files.store}" in err


def test_without_a_terminal_nothing_is_written_without_yes(files: Files) -> None:
    original = files.config.read_bytes()
    for args in (("addmount", str(files.lib)), ("removemount", str(files.app))):
        code, out, err = files.cli(*args)
        assert code == 2
        assert "there is no terminal to ask on" in err
        assert "pass -y" in err
        assert out.startswith("---")  # the change is still shown
    assert files.config.read_bytes() == original
    assert files.backups() == []


def test_removemount_names_what_it_can_remove(files: Files) -> None:
    inner = files.app / "sub"
    inner.mkdir()
    code, _, err = files.cli("removemount", str(inner), "-y")
    assert code == 2
    assert f"{inner} is not a mount of {files.config}" in err
    assert f"it lies inside the mount {files.app}" in err
    code, _, err = files.cli("removemount", str(files.app), "--vm", "other", "-y")
    assert code == 2
    assert "is mounted into the VM dev, not other" in err


def test_addmount_without_a_config_creates_one(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    config = tmp_path / "new" / "config.yaml"
    result = run_cli("addmount", "-y", "--config", config, cwd=project)
    assert result.returncode == 0, result.stderr
    assert f"created {config}" in result.stderr
    assert result.stdout.startswith("--- /dev/null\n")
    text = config.read_text()
    assert text.startswith("# Written by `agsekit addmount`")
    assert text.endswith(f"mounts:\n  - source: {project}\n")
    assert config.stat().st_mode & 0o777 == 0o600
    assert list(config.parent.iterdir()) == [config]  # no .bak, no temporary file left
    check = run_cli("config-check", "--config", config)
    assert check.returncode == 0, check.stderr
    assert f"mount {project} -> agsekit:/home/ubuntu/project" in check.stdout


def test_crlf_lines_stay_crlf(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    config = tmp_path / "config.yaml"
    text = f"vms:\r\n  v:  # a VM\r\n    cpu: 1\r\nmounts:\r\n  - source: {tmp_path / 'a'}\r\n"
    config.write_bytes(text.encode())
    result = run_cli("addmount", tmp_path / "b", "-y", "--config", config)
    assert result.returncode == 0, result.stderr
    assert config.read_bytes() == (text + f"  - source: {tmp_path / 'b'}\r\n").encode()


def test_a_symlinked_config_is_edited_where_it_points(files: Files) -> None:
    link = files.root / "link.yaml"
    link.symlink_to(files.config)
    result = run_cli("addmount", files.lib, "-y", "--config", link)
    assert result.returncode == 0, result.stderr
    assert link.is_symlink()
    assert f"source: {files.lib}" in files.config.read_text()
    assert len(files.backups()) == 1


def test_run_outside_every_mount_without_a_terminal_names_addmount(files: Files) -> None:
    result = run_cli("run", "--config", files.config, "claude", cwd=files.lib)
    assert result.returncode == 2
    assert "is not inside any mounted folder" in result.stderr
    assert f"agsekit addmount {files.lib} --mount-now" in result.stderr


@pytest.mark.parametrize(
    "layout",
    [
        "vms:\n  v: {{}}\nmounts:\n- source: {a}\n  vm: v\nagents: {{}}\n",
        "vms:\n  v: {{}}\nmounts:\n    -   source: {a}   # wide\n        vm: v\n",
        "vms:\n  v: {{}}\nmounts: []  # none yet\nagents: {{}}\n",
        "vms:\n  v: {{}}\n",
    ],
    ids=["no-offset", "wide", "empty-list", "no-mounts-key"],
)
def test_add_then_remove_gives_the_file_back(tmp_path: Path, layout: str) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(layout.format(a=a))
    original = config.read_bytes()
    added = run_cli("addmount", b, "--vm", "v", "-y", "--config", config)
    assert added.returncode == 0, added.stderr
    assert run_cli("config-check", "--config", config).returncode == 0
    removed = run_cli("removemount", b, "-y", "--config", config)
    assert removed.returncode == 0, removed.stderr
    back = config.read_bytes()
    if "mounts" in layout:
        assert back == original
    else:
        assert back == original + b"mounts: []\n"


def test_a_flow_list_of_mounts_is_refused_with_a_hint(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(f"vms:\n  v: {{}}\nmounts: [{{source: {tmp_path}/x}}]\n")
    result = run_cli("addmount", tmp_path / "a", "-y", "--config", config)
    assert result.returncode == 2
    assert "'mounts' is written as a flow list" in result.stderr
    assert "write it as a block list" in result.stderr


def test_an_existing_bak_is_never_overwritten(files: Files) -> None:
    original = files.config.read_bytes()
    now = time.time()
    taken = {
        files.config.parent / time.strftime("config.yaml.%Y%m%dT%H%M%SZ.bak", time.gmtime(t))
        for t in range(int(now) - 1, int(now) + 30)
    }
    for path in taken:
        path.write_text("an older backup\n")
    code, _, err = files.cli("addmount", str(files.lib), "-y")
    assert code == 0, err
    (new,) = set(files.backups()) - taken
    assert new.name.endswith("Z-1.bak")
    assert new.read_bytes() == original
    assert all(path.read_text() == "an older backup\n" for path in taken)


def test_removemount_refuses_while_an_agent_session_runs_there(files: Files) -> None:
    from agsekit.agents.sessions import Session, registered

    state = files.root / "state"
    session = Session("s1", "claude", "dev", str(files.app / "sub"), "2026-12-04T10:00:00Z", 1)
    with registered(session, state / "agsekit" / "sessions"):
        result = run_cli(
            "removemount", files.app, "-y", "--config", files.config,
            env={"HOME": str(files.home), "XDG_STATE_HOME": str(state)},
        )  # fmt: skip
    assert result.returncode == 1
    assert f"an agent session runs on {files.app} (claude, pid 1); nothing changed" in result.stderr
    assert f"source: {files.app}" in files.config.read_text()
    assert files.backups() == []
