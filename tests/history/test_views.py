"""backup-list, backup-diff, backup-deleted and backup-history on real stores (issue 3)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tests.helpers import run_cli, run_cli_bytes, snapshots_in, write
from tests.history.apply_tools import assert_applies, read_back
from tests.history.conftest import NON_UTF8, Snap


def test_list_shows_counts_pins_labels_and_total(project: Path, dest: Path, snap: Snap) -> None:
    first = snap(label="first one").name
    write(project / "my notes.txt", "edited\n")
    (project / "data.bin").unlink()
    write(project / "new.txt", "n\n")
    second = snap().name
    assert first is not None and second is not None
    pin = run_cli("backup-pin", first, "--dest-dir", dest, "--label", "known good")
    assert pin.returncode == 0, pin.stderr
    rows = json.loads(run_cli("backup-list", "--dest-dir", dest, "--json").stdout)
    assert [r["name"] for r in rows] == [first, second]
    assert rows[0]["pinned"] is True and rows[0]["label"] == "known good"
    assert rows[1] | {"time": None, "files": None, "bytes": None} == {
        "name": second,
        "time": None,
        "files": None,
        "bytes": None,
        "added": 1,
        "modified": 1,
        "deleted": 1,
        "new_bytes": len("edited\n") + len("n\n"),
        "pinned": False,
        "label": None,
        "incomplete": False,
    }
    assert rows[0]["time"].startswith("2026-03-0") and rows[0]["time"][-6] in "+-"
    table = run_cli("backup-list", "--dest-dir", dest)
    lines = table.stdout.splitlines()
    assert first in lines[0] and "pinned" in lines[0] and "known good" in lines[0]
    assert "+1" in lines[1] and "~1" in lines[1] and "-1" in lines[1]
    assert "2 snapshot(s)" in lines[-1] and "on disk" in lines[-1]
    unpin = run_cli("backup-unpin", first, "--dest-dir", dest)
    assert unpin.returncode == 0, unpin.stderr
    rows = json.loads(run_cli("backup-list", "--dest-dir", dest, "--json").stdout)
    assert rows[0]["pinned"] is False and rows[0]["label"] == "known good"


def test_diff_between_snapshots_and_live(project: Path, dest: Path, snap: Snap) -> None:
    first = snap().name
    write(project / "my notes.txt", "remember the eggs\n")
    os.rename(project / "data.bin", project / "data moved.bin")
    (project / "src" / "deep" / "util.py").unlink()
    write(project / "picture.png", b"\x89PNG\0\0binary")
    second = snap().name
    assert first is not None and second is not None
    proc = run_cli("backup-diff", first, second, "--dest-dir", dest)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "M my notes.txt" in lines
    assert "R data.bin -> data moved.bin" in lines
    assert "D src/deep/util.py" in lines
    assert "A picture.png" in lines
    assert lines[-1].endswith("1 added, 1 modified, 1 deleted, 1 renamed")

    stat = run_cli("backup-diff", first, second, "--dest-dir", dest, "--stat")
    assert stat.stdout.splitlines() == [lines[-1]]

    patch = run_cli("backup-diff", first, second, "--dest-dir", dest, "--patch")
    assert "-remember the milk\n+remember the eggs\n" in patch.stdout
    assert "diff --git a/picture.png b/picture.png\nnew file mode 100644\n" in patch.stdout
    assert "Binary files /dev/null and b/picture.png differ\n" in patch.stdout
    assert "names 1 change(s) without their content" in patch.stderr

    (project / "my notes.txt").unlink()
    live = run_cli("backup-diff", "--dest-dir", dest, "--json")
    data = json.loads(live.stdout)
    assert data["from"] == second and data["to"] == "live"
    assert data["changes"] == [{"status": "D", "kind": "file", "path": "my notes.txt"}]
    from_first = json.loads(run_cli("backup-diff", first, "--dest-dir", dest, "--json").stdout)
    assert from_first["to"] == "live"
    assert {"status": "D", "kind": "file", "path": "my notes.txt"} in from_first["changes"]


def test_diff_names_non_utf8_paths_exactly(project: Path, dest: Path, snap: Snap) -> None:
    snap()
    os.unlink(os.fsencode(project) + b"/" + NON_UTF8)
    data = json.loads(run_cli("backup-diff", "--dest-dir", dest, "--json").stdout)
    (change,) = data["changes"]
    assert bytes.fromhex(change["path_hex"]) == NON_UTF8
    text = run_cli("backup-diff", "--dest-dir", dest)
    assert 'D "caf\\351 menu.txt"' in text.stdout


def test_deleted_since(project: Path, dest: Path, snap: Snap) -> None:
    first = snap().name
    (project / "data.bin").unlink()
    second = snap().name  # 10:00 UTC
    (project / "my notes.txt").unlink()
    snap()  # 11:00 UTC
    (project / "src" / "main.py").unlink()
    everything = json.loads(run_cli("backup-deleted", "--dest-dir", dest, "--json").stdout)
    assert {(i["path"], i["last_snapshot"], i["gone_since"]) for i in everything} == {
        ("data.bin", first, second),
        ("my notes.txt", second, snapshots_in(dest)[2]),
        ("src/main.py", snapshots_in(dest)[2], None),
    }
    recent = run_cli("backup-deleted", "--dest-dir", dest, "--since", "2026-03-02T10:30Z")
    assert recent.returncode == 0, recent.stderr
    assert "my notes.txt" in recent.stdout and "src/main.py" in recent.stdout
    assert "data.bin" not in recent.stdout
    bad = run_cli("backup-deleted", "--dest-dir", dest, "--since", "last tuesday-ish")
    assert bad.returncode == 2 and "cannot read time" in bad.stderr


def test_history_lists_versions_and_deletion_and_restores_one(
    project: Path, dest: Path, snap: Snap
) -> None:
    notes = project / "my notes.txt"
    v1 = snap().name
    write(project / "other.txt", "unrelated change\n")
    snap()
    notes.write_text("version two\n")
    v2 = snap().name
    notes.unlink()
    gone = snap().name
    notes.write_text("version three\n")
    v3 = snap().name
    data = json.loads(
        run_cli("backup-history", "my notes.txt", "--dest-dir", dest, "--json").stdout
    )
    assert [(v["first"], v["deleted_in"]) for v in data["versions"]] == [
        (v1, None),
        (v2, gone),
        (v3, None),
    ]
    assert data["versions"][0]["last"] == snapshots_in(dest)[1]
    assert data["live"] == "unchanged"
    text = run_cli("backup-history", str(notes), "--dest-dir", dest)
    assert f"{gone}  deleted" in text.stdout

    assert v2 is not None
    restore = run_cli("backup-history", "my notes.txt", "--dest-dir", dest, "--restore", v2)
    assert restore.returncode == 0, restore.stderr
    assert notes.read_text() == "version two\n"
    assert (project / "other.txt").read_text() == "unrelated change\n"
    assert "To undo this restore" in restore.stdout


def test_history_path_is_relative_to_the_current_folder_inside_the_project(
    project: Path, dest: Path, snap: Snap
) -> None:
    snap()
    proc = run_cli("backup-history", "deep/util.py", "--dest-dir", dest, cwd=project / "src")
    assert proc.returncode == 0, proc.stderr
    assert "History of src/deep/util.py" in proc.stdout
    missing = run_cli("backup-history", "nope.txt", "--dest-dir", dest)
    assert missing.returncode == 2 and "in none of the 1 snapshots" in missing.stderr


def test_mount_option_finds_the_store(
    project: Path, dest: Path, snap: Snap, tmp_path: Path
) -> None:
    snap()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"vms:\n  vm1: {{}}\nmounts:\n  - source: '{project}'\n    backup: '{dest}'\n"
    )
    proc = run_cli("backup-list", "--mount", project / "src", "--config", config, "--json")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == 1
    neither = run_cli("backup-list")
    assert neither.returncode == 2 and "--dest-dir DEST or --mount PATH" in neither.stderr
    shutil.rmtree(tmp_path / "backups")
    gone = run_cli("backup-list", "--dest-dir", dest)
    assert gone.returncode == 2 and "no snapshot folder" in gone.stderr


def test_diff_against_live_applies_the_snapshots_exclude_patterns(tmp_path: Path) -> None:
    from tests.helpers import run_cli, write

    source = tmp_path / "proj"
    write(source / "keep.txt", "k")
    write(source / "scratch.tmp", "t")
    dest = tmp_path / "store"
    taken = run_cli("backup-once", "--source-dir", source, "--dest-dir", dest, "--exclude", "*.tmp")
    assert taken.returncode == 0, taken.stderr
    write(source / "other.tmp", "u")
    diff = run_cli("backup-diff", "--dest-dir", dest)
    assert diff.returncode == 0, diff.stderr
    changes = [line for line in diff.stdout.splitlines() if line[:2] in ("A ", "M ", "D ")]
    assert not any("tmp" in line for line in changes)
    # and the listing ends with what the rules leave out of every snapshot
    assert diff.stdout.splitlines()[-1].endswith("other.tmp, scratch.tmp")


_ODD_NEW_FILES = {
    b"new\tfile": b"tab\n",
    b"new dir/two\nlines": b"",
    b" trailing ": b"no newline",
    b"-dash": b"-\n",
    b'q"uote': b"\\ No newline at end of file\n",
}


def test_diff_patch_applies_to_the_old_snapshot(
    project: Path, dest: Path, snap: Snap, tmp_path: Path
) -> None:
    """backup-diff --patch output, status lines and all, applied with patch -p1 and with
    git apply to a restored copy of the old snapshot gives the live tree."""
    old = snap().name
    assert old is not None
    base = os.fsencode(project)
    write(project / "my notes.txt", b"remember the milk\r\nand the eggs")
    (project / "src" / "deep" / "util.py").chmod(0o755)
    os.rename(project / "src" / "main.py", project / "src" / "main renamed.py")
    (project / "docs" / "read only.md").unlink()
    os.unlink(project / "link to notes")
    os.symlink("src/deep/util.py", project / "link to notes")
    os.symlink("my notes.txt", project / "another link")
    with open(base + b"/" + NON_UTF8, "ab") as fh:
        fh.write(b"and bread \xff\x85\x0c\n")
    for name, data in _ODD_NEW_FILES.items():
        os.makedirs(os.path.dirname(base + b"/" + name), exist_ok=True)
        with open(base + b"/" + name, "wb") as fh:
            fh.write(data)
    write(project / "new dir" / "x y.txt", "one\ntwo\n")
    write(project / "src" / "deep" / "empty", "")
    restored = tmp_path / "restored"
    proc = run_cli("backup-restore", "--dest-dir", dest, "--snapshot", old, "--to", restored)
    assert proc.returncode == 0, proc.stderr

    diff = run_cli_bytes("backup-diff", old, "--dest-dir", dest, "--patch")
    assert diff.returncode == 0 and diff.stderr == b"", diff.stderr
    assert b'\nA "new dir/two\\nlines"\n' in diff.stdout  # one line, the newline quoted
    live = {p: item for p, item in read_back(project).items() if p != b"debug.log"}
    assert_applies(restored, tmp_path / "applied", diff.stdout, live)
