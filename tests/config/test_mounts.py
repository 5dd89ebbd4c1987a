"""Mount paths: what a source, a target and a backup folder may be, and their defaults."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agsekit.config.load import load_config
from agsekit.core.errors import ConfigError
from tests.helpers import run_cli


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value.problems


def mounts(*lines: str) -> str:
    """A config with these mounts; a line that starts with spaces continues the one before."""
    items = "".join(f"  {line}\n" if line.startswith(" ") else f"  - {line}\n" for line in lines)
    return "vms: {a: {}, b: {}}\nmounts:\n" + items


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home" / "me"
    folder.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(folder))
    return folder


# -- targets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "normal"),
    [
        ("/home/ubuntu/app/", "/home/ubuntu/app"),
        ("//srv//app", "/srv/app"),
        ("/srv/./app", "/srv/app"),
        ("/srv/my app", "/srv/my app"),
    ],
)
def test_target_is_normalised(tmp_path: Path, target: str, normal: str) -> None:
    config = load_config(write(tmp_path, mounts(f"{{source: /p, target: {target!r}}}")))
    assert config.mounts[0].target == normal


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ('"app"', "must be an absolute path inside the VM, e.g. /home/ubuntu/project (got 'app')"),
        ('"/"', "must not be / itself: name a folder, e.g. /home/ubuntu/project (got '/')"),
        ('"//"', "must not be / itself: name a folder, e.g. /home/ubuntu/project (got '//')"),
        ('"/home/../etc"', "must not contain '..' (got '/home/../etc')"),
        ('"/srv/app/.."', "must not contain '..' (got '/srv/app/..')"),
        ('"/srv/a\\0b"', "must not contain control characters (found U+0000) (got '/srv/a\\x00b')"),
        ('"/srv/a\\nb"', "must not contain control characters (found U+000A) (got '/srv/a\\nb')"),
        (
            '"/srv/\\u202eab"',
            "must not contain control characters (found U+202E) (got '/srv/\\u202eab')",
        ),
        ('""', "must be an absolute path inside the VM, e.g. /home/ubuntu/project (got '')"),
    ],
)
def test_bad_targets(tmp_path: Path, target: str, expected: str) -> None:
    problems = problems_of(tmp_path, mounts("source: /p", f"  target: {target}"))
    assert problems == [f"config.yaml:4: mounts[0].target: {expected}"]


def test_same_target_twice_in_one_vm(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        mounts(
            "{source: /x/app}",
            "{source: /y/app}",
            "{source: /z, target: /home/ubuntu/app/}",
            "{source: /w/app, vm: b}",
        ),
    )
    assert problems == [
        "config.yaml:4: mounts[1].target: the same target in VM 'a' as mounts[0] (the default "
        "/home/ubuntu/<folder name>); set 'target:' to another folder (got '/home/ubuntu/app')",
        "config.yaml:5: mounts[2].target: the same target in VM 'a' as mounts[0]; "
        "set 'target:' to another folder (got '/home/ubuntu/app')",
    ]


# -- sources -------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["/", "//", "/usr/..", "/./"])
def test_source_must_not_be_the_whole_host(tmp_path: Path, source: str) -> None:
    problems = problems_of(tmp_path, mounts(f"source: {source!r}"))
    assert problems == [
        "config.yaml:3: mounts[0].source: must not be / (the whole host would be handed to "
        f"the agent); name a project folder (got {source!r})"
    ]


def test_source_must_not_be_home_or_hold_it(tmp_path: Path, home: Path) -> None:
    (tmp_path / "link").symlink_to(home)
    problems = problems_of(
        tmp_path,
        mounts(
            "source: '~'",
            "source: '~/'",
            f"source: {home.parent}",
            "source: link",
            "source: ~/project",
        ),
    )
    message = (
        f"must not be your home folder {str(home)!r} or a folder that holds it (the agent "
        "would get ~/.ssh and every other secret there); name a project folder"
    )
    assert problems == [
        f"config.yaml:3: mounts[0].source: {message} (got '~')",
        f"config.yaml:4: mounts[1].source: {message} (got '~/')",
        f"config.yaml:5: mounts[2].source: {message} (got {str(home.parent)!r})",
        f"config.yaml:6: mounts[3].source: {message} (got 'link')",
    ]


def test_unknown_user_is_an_error_not_a_folder_beside_the_config(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        mounts("source: ~nosuchuser-agsekit/p", "source: /q", "  backup: ~nosuchuser-agsekit"),
    )
    assert problems == [
        "config.yaml:3: mounts[0].source: there is no user named 'nosuchuser-agsekit' on this "
        "host (got '~nosuchuser-agsekit/p')",
        "config.yaml:5: mounts[1].backup: there is no user named 'nosuchuser-agsekit' on this "
        "host (got '~nosuchuser-agsekit')",
    ]


def test_other_users_home_expands(tmp_path: Path) -> None:
    root_home = os.path.expanduser("~root")
    config = load_config(write(tmp_path, mounts("source: ~root/project")))
    assert config.mounts[0].source == Path(root_home) / "project"


@pytest.mark.parametrize(
    ("key", "value", "char"),
    [
        ("source", '"/p\\tq"', "0009"),
        ("source", '"/p\\x7f"', "007F"),
        ("source", '"/p\\u0085"', "0085"),
        ("source", '"/p\\u2028"', "2028"),
        ("backup", '"/b\\0"', "0000"),
        ("backup", '"/b\\e"', "001B"),
    ],
)
def test_control_characters_in_host_paths(tmp_path: Path, key: str, value: str, char: str) -> None:
    text = mounts("source: /p" if key == "backup" else f"source: {value}")
    if key == "backup":
        text += f"    backup: {value}\n"
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1
    assert problems[0].startswith(
        f"config.yaml:{4 if key == 'backup' else 3}: mounts[0].{key}: "
        f"must not contain control characters (found U+{char}) (got '"
    )
    assert all(ord(c) >= 32 for c in problems[0]), problems


def test_empty_paths(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, mounts("{source: '', backup: ''}"))
    assert problems == [
        "config.yaml:3: mounts[0].source: must not be empty (got '')",
        "config.yaml:3: mounts[0].backup: must not be empty (got '')",
    ]


def test_same_source_through_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    problems = problems_of(tmp_path, mounts("source: real", "source: alias"))
    assert problems == [
        "config.yaml:4: mounts[1].source: the same source as mounts[0] "
        f"(got {str(tmp_path / 'alias')!r})"
    ]


def test_cli_refuses_the_whole_host(tmp_path: Path) -> None:
    path = write(tmp_path, mounts("source: /", "source: ~nosuchuser-agsekit/p"))
    proc = run_cli("config-check", "--config", path, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        f"agsekit: error: invalid configuration in {path}",
        "  config.yaml:3: mounts[0].source: must not be / (the whole host would be handed to "
        "the agent); name a project folder (got '/')",
        "  config.yaml:4: mounts[1].source: there is no user named 'nosuchuser-agsekit' on "
        "this host (got '~nosuchuser-agsekit/p')",
    ]


# -- backup folders ------------------------------------------------------------------------


def test_two_mounts_cannot_share_a_backup_folder(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path, mounts("{source: /p, backup: /b}", "{source: /q, backup: /x/../b/}")
    )
    assert problems == [
        "config.yaml:4: mounts[1].backup: the same backup folder as mounts[0] (got '/b')"
    ]


def test_backup_inside_its_own_source(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, mounts("source: /p", "  backup: /p/.snapshots"))
    assert problems == [
        "config.yaml:4: mounts[0].backup: the backup folder must not be inside the source: "
        "the agent could delete its own snapshots (got '/p/.snapshots')"
    ]


def test_backup_inside_another_mounts_source(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path, mounts("source: /p", "source: /q", "  backup: /p/store", "source: /r/s")
    )
    assert problems == [
        "config.yaml:5: mounts[1].backup: the backup folder must not be in the source of "
        "mounts[0] ('/p'): the agent working there could delete these snapshots "
        "(got '/p/store')"
    ]


def test_backup_holding_another_mounts_source(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, mounts("{source: /p, backup: /store}", "source: /store/q"))
    assert problems == [
        "config.yaml:3: mounts[0].backup: the backup folder must not hold the source of "
        "mounts[1] ('/store/q') (got '/store')",
        "config.yaml:4: mounts[1].backup: the backup folder must not be inside the backup "
        "folder of mounts[0]; it is the default: set 'backup:' to a folder outside every source "
        "(got '/store/backups-q')",
    ]


def test_backup_inside_another_backup_folder(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path, mounts("{source: /p, backup: /store}", "{source: /q, backup: /store/q}")
    )
    assert problems == [
        "config.yaml:4: mounts[1].backup: the backup folder must not be inside the backup "
        "folder of mounts[0] (got '/store/q')"
    ]


def test_backup_inside_a_source_through_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "store").symlink_to(tmp_path / "project")
    problems = problems_of(tmp_path, mounts("{source: project, backup: store/snapshots}"))
    assert problems == [
        "config.yaml:3: mounts[0].backup: the backup folder must not be inside the source: "
        f"the agent could delete its own snapshots (got {str(tmp_path / 'store/snapshots')!r})"
    ]


def test_default_backup_of_a_nested_mount_goes_beside_the_outermost_source(
    tmp_path: Path,
) -> None:
    config = load_config(
        write(
            tmp_path,
            mounts(
                "source: work/p/sub",
                "  target: /home/ubuntu/sub",
                "source: work/p",
                "source: work/p/sub/deep",
                "  target: /home/ubuntu/deep",
                "source: work/other",
            ),
        )
    )
    work = tmp_path / "work"
    assert [m.backup for m in config.mounts] == [
        work / "backups-p-sub",
        work / "backups-p",
        work / "backups-p-sub-deep",
        work / "backups-other",
    ]


def test_colliding_default_backups_ask_for_an_explicit_one(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        mounts(
            "source: /w/p",
            "source: /w/p/a-b",
            "source: /w/p-a",
            "source: /w/p-a/b",
            "  target: /home/ubuntu/b2",
        ),
    )
    assert problems == [
        "config.yaml:6: mounts[3].backup: the same backup folder as mounts[1]; it is the "
        "default: set 'backup:' to a folder outside every source (got '/w/backups-p-a-b')"
    ]


def test_default_backup_inside_another_source(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, mounts("source: /w/p", "source: /w/backups-p/x"))
    assert problems == [
        "config.yaml:3: mounts[0].backup: the backup folder must not hold the source of "
        "mounts[1] ('/w/backups-p/x'); it is the default: set 'backup:' to a folder outside "
        "every source (got '/w/backups-p')",
        "config.yaml:4: mounts[1].backup: the backup folder must not be inside the backup "
        "folder of mounts[0]; it is the default: set 'backup:' to a folder outside every source "
        "(got '/w/backups-p/backups-x')",
    ]


def test_cli_refuses_a_backup_inside_the_source(tmp_path: Path) -> None:
    path = write(tmp_path, mounts("source: /srv/p", "  backup: /srv/p/backups"))
    proc = run_cli("config-check", "--config", path, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[1:] == [
        "  config.yaml:4: mounts[0].backup: the backup folder must not be inside the source: "
        "the agent could delete its own snapshots (got '/srv/p/backups')"
    ]


def test_backup_that_is_another_mounts_source(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, mounts("source: /p", "{source: /q, backup: /p}"))
    assert problems == [
        "config.yaml:4: mounts[1].backup: the backup folder must not be in the source of "
        "mounts[0] ('/p'): the agent working there could delete these snapshots (got '/p')"
    ]
