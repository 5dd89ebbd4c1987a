"""backup-list, backup-diff, backup-deleted, backup-history: looking at what the
snapshots hold. JSON schemas are documented in docs/json.md."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agsekit.cli import completion
from agsekit.cli.history_render import (
    iso_local,
    parse_time,
    path_fields,
    show_path,
    snapshot_time,
    when,
)
from agsekit.cli.options import json_option
from agsekit.cli.store_args import StoreTarget, resolve_store, store_options

if TYPE_CHECKING:
    from agsekit.snapshots.engine.walk import WalkResult
    from agsekit.snapshots.history.catalog import SnapshotEntry
    from agsekit.snapshots.history.diff import DiffEntry, Side

SHOWN_LEFT_OUT = 10


@click.command("backup-list")
@store_options
@json_option
def backup_list(
    *, dest_dir: Path | None, mount_path: Path | None, config_path: str | None, as_json: bool
) -> None:
    """One row per snapshot, in the order they were taken: time, age, files added /
    modified / deleted since the previous snapshot, new data, pin and label; then the
    disk the store uses."""
    from agsekit.cli.render import format_bytes, print_json
    from agsekit.snapshots.history.catalog import list_snapshots
    from agsekit.tools.du import disk_usage

    target = resolve_store(dest_dir, mount_path, config_path)
    entries, warning = list_snapshots(target.store)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        print_json([_entry_json(e) for e in entries])
        return
    if not entries:
        click.echo(f"No snapshots in {target.store.dest} yet.")
        return
    now = datetime.now(timezone.utc)
    rows = [_entry_row(e, now) for e in entries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]).rstrip())
    used = disk_usage(target.store.dest)
    shown = format_bytes(used) if used is not None else "unknown"
    source = target.source_or_none()
    click.echo(
        f"{len(entries)} snapshot(s) of {show_path(str(source)) if source else '?'}; the store "
        f"uses {shown} on disk (hard links counted once)."
    )


def _count(entry: SnapshotEntry, key: str, sign: str) -> str:
    value = entry.count(key)
    return f"{sign}{value}" if value is not None else f"{sign}?"


def _entry_row(entry: SnapshotEntry, now: datetime) -> list[str]:
    from agsekit.cli.render import format_bytes

    new_bytes = entry.count("new_bytes")
    note = (entry.label or "") + (" (incomplete)" if entry.incomplete else "")
    return [
        entry.name,
        when(entry.time, now),
        _count(entry, "added", "+"),
        _count(entry, "modified", "~"),
        _count(entry, "deleted", "-"),
        format_bytes(new_bytes) if new_bytes is not None else "?",
        "pinned" if entry.pinned else "",
        show_path(note) if note else "",
    ]


def _entry_json(entry: SnapshotEntry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "time": iso_local(entry.time),
        "files": entry.count("files"),
        "bytes": entry.count("bytes"),
        "added": entry.count("added"),
        "modified": entry.count("modified"),
        "deleted": entry.count("deleted"),
        "new_bytes": entry.count("new_bytes"),
        "pinned": entry.pinned,
        "label": entry.label,
        "incomplete": entry.incomplete,
    }


# ----- backup-diff ------------------------------------------------------------------------


@click.command("backup-diff")
@click.argument("from_name", metavar="[FROM", required=False, shell_complete=completion.snapshots)
@click.argument("to_name", metavar="[TO]]", required=False, shell_complete=completion.snapshots)
@store_options
@click.option("--stat", "stat_only", is_flag=True, help="Only count the changes.")
@click.option("--patch", is_flag=True, help="Show unified diffs of changed text files.")
@json_option
def backup_diff(
    *,
    from_name: str | None,
    to_name: str | None,
    dest_dir: Path | None,
    mount_path: Path | None,
    config_path: str | None,
    stat_only: bool,
    patch: bool,
    as_json: bool,
) -> None:
    """What changed from snapshot FROM to TO. FROM and TO are snapshot names, `latest`,
    or `live` (the live folder); the default is latest -> live, and with only FROM the
    comparison is FROM -> live. A comparison with the live folder ends with the live
    paths that no snapshot holds because the ignore rules leave them out.

    \b
    One line per path:  A added   M modified   D deleted   R renamed (same content)
    Folders are shown (with a trailing /) only when added or removed empty, or re-moded.
    """
    from agsekit.cli.render import print_json
    from agsekit.snapshots.history.diff import counts, diff_trees

    target = resolve_store(dest_dir, mount_path, config_path)
    old_label, old, _ = _side(target, from_name or "latest")
    new_label, new, live = _side(target, to_name or "live")
    entries = diff_trees(old, new)
    summary = counts(entries)
    left_out = _left_out(target, live) if live is not None else []
    if as_json:
        print_json(
            {
                "from": old_label,
                "to": new_label,
                "counts": summary,
                "changes": [] if stat_only else [_diff_json(e) for e in entries],
                "left_out": [path_fields(p) for p in left_out],
            }
        )
        return
    if not stat_only:
        without_content = 0
        for entry in entries:
            click.echo(_diff_line(entry))
            if patch and not _print_patch(old, new, entry):
                without_content += 1
        if without_content:
            _warn_without_content(without_content)
    click.echo(
        f"{old_label} -> {new_label}: {summary['added']} added, {summary['modified']} "
        f"modified, {summary['deleted']} deleted, {summary['renamed']} renamed"
    )
    if left_out:
        click.echo(left_out_line(left_out))


def left_out_line(paths: list[bytes]) -> str:
    shown = ", ".join(show_path(p) for p in paths[:SHOWN_LEFT_OUT])
    more = f" and {len(paths) - SHOWN_LEFT_OUT} more" if len(paths) > SHOWN_LEFT_OUT else ""
    return f"Left out by the ignore rules, so in no snapshot: {len(paths)} path(s): {shown}{more}"


def _left_out(target: StoreTarget, walk: WalkResult) -> list[bytes]:
    """Live paths the rules leave out that the latest snapshot does not hold either."""
    from agsekit.snapshots.history.catalog import snapshot_tree

    latest = target.store.latest()
    held = snapshot_tree(target.store, latest) if latest is not None else {}
    return sorted(p for p in walk.excluded if p not in held)


def _side(target: StoreTarget, text: str) -> tuple[str, Side, WalkResult | None]:
    from agsekit.snapshots.history.catalog import LIVE, live_walk, resolve_name, snapshot_tree
    from agsekit.snapshots.history.diff import Side

    store = target.store
    if text == LIVE:
        source = target.live_source()
        walk = live_walk(source, store)
        return "live", Side(walk.tree, os.fsencode(os.path.realpath(source))), walk
    name = resolve_name(store, text)
    return name, Side(snapshot_tree(store, name), os.fsencode(store.path_of(name))), None


def _display(path: bytes, kind: str) -> str:
    return show_path(path) + ("/" if kind == "d" else "")


def _diff_line(entry: DiffEntry) -> str:
    if entry.status == "R" and entry.old_path is not None:
        return f"R {_display(entry.old_path, entry.kind)} -> {_display(entry.path, entry.kind)}"
    return f"{entry.status} {_display(entry.path, entry.kind)}"


def _diff_json(entry: DiffEntry) -> dict[str, Any]:
    kinds = {"f": "file", "l": "symlink", "d": "folder"}
    data: dict[str, Any] = {"status": entry.status, "kind": kinds[entry.kind]}
    data.update(path_fields(entry.path))
    if entry.old_path is not None:
        data.update(path_fields(entry.old_path, "old_path"))
    return data


def _print_patch(old: Side, new: Side, entry: DiffEntry) -> bool:
    """Write the entry's patch bytes to stdout as they are (on a terminal, with control
    characters shown as escapes: the content is the agent's); False when the patch only
    names the change (binary, large or unreadable content)."""
    from agsekit.core.display import visible_bytes
    from agsekit.snapshots.history.diff import patch

    data, complete = patch(old, new, entry)
    if data and sys.stdout.isatty():
        data = visible_bytes(data)
    if data:
        sys.stdout.flush()  # what click.echo wrote comes first
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return complete


def _warn_without_content(count: int) -> None:
    from agsekit.snapshots.history.diff import PATCH_LIMIT

    click.echo(
        f"agsekit: the patch names {count} change(s) without their content (binary, over "
        f"{PATCH_LIMIT >> 20} MiB or unreadable: the 'differ' lines). git apply refuses "
        "such a patch; patch -p1 skips those files. Bring them back with backup-restore.",
        err=True,
    )


# ----- backup-deleted ---------------------------------------------------------------------


@click.command("backup-deleted")
@store_options
@click.option(
    "--since",
    metavar="TIME",
    help="Only files found missing at or after TIME ('2026-11-28 10:00', '2h ago').",
)
@json_option
def backup_deleted(
    *,
    dest_dir: Path | None,
    mount_path: Path | None,
    config_path: str | None,
    since: str | None,
    as_json: bool,
) -> None:
    """Files that some snapshot holds but the live folder does not (a file that became a
    folder, a symlink or a FIFO counts as gone), each with the newest snapshot that holds
    it: the "recently deleted" view."""
    from agsekit.cli.render import format_bytes, print_json
    from agsekit.snapshots.history.files import deleted_files
    from agsekit.snapshots.keep.alarm import restore_command

    target = resolve_store(dest_dir, mount_path, config_path)
    source = target.live_source()
    moment = parse_time(since, "--since") if since else None
    unknown: set[bytes] = set()
    found = deleted_files(target.store, source, moment, unknown)
    if unknown:
        shown = ", ".join(show_path(p) for p in sorted(unknown)[:SHOWN_LEFT_OUT])
        more = f" and {len(unknown) - SHOWN_LEFT_OUT} more" if len(unknown) > SHOWN_LEFT_OUT else ""
        click.echo(
            f"warning: {len(unknown)} live folder(s) could not be read, so what is gone from "
            f"them is not known and not listed: {shown}{more}",
            err=True,
        )
    kinds = {"l": "symlink", "f": "file"}
    if as_json:
        print_json(
            [
                {
                    **path_fields(f.path),
                    "kind": kinds.get(f.kind, f.kind),
                    "size": f.size,
                    "last_snapshot": f.last_snapshot,
                    "last_time": iso_local(snapshot_time(f.last_snapshot)),
                    "gone_since": f.gone_since,
                    "now": _now_kind(f.now),
                }
                for f in found
            ]
        )
        return
    if not found:
        shown = show_path(str(source))
        outside = " outside the folders that could not be read" if unknown else ""
        click.echo(
            f"Nothing is missing from {shown}{outside}" + (f" since {since}." if since else ".")
        )
        return
    now = datetime.now(timezone.utc)
    for item in found:
        gone = f"missing since {item.gone_since}" if item.gone_since else "missing now"
        if item.now is not None:
            gone = f"now {_now_kind(item.now)}"
        click.echo(
            f"{show_path(item.path)}  ({format_bytes(item.size)})  last in {item.last_snapshot} "
            f"{when(snapshot_time(item.last_snapshot), now)}; {gone}"
        )
    first = found[0]
    click.echo(
        f"{len(found)} file(s) missing from {show_path(str(source))}. Bring one back with:\n  "
        + restore_command(target.store, "--snapshot", first.last_snapshot, paths=(first.path,))
    )


def _now_kind(kind: str | None) -> str | None:
    names = {"d": "a folder", "l": "a symlink", "f": "a file", "other": "a special file"}
    return names.get(kind, kind) if kind is not None else None


# ----- backup-history ---------------------------------------------------------------------


@click.command("backup-history")
@click.argument("path")
@store_options
@click.option(
    "--restore",
    "restore_name",
    metavar="NAME",
    help="Bring back the version held by snapshot NAME, in place (after a safety snapshot).",
    shell_complete=completion.snapshots,
)
@json_option
def backup_history(
    *,
    path: str,
    dest_dir: Path | None,
    mount_path: Path | None,
    config_path: str | None,
    restore_name: str | None,
    as_json: bool,
) -> None:
    """Every distinct version of one path across the snapshots, and where it was deleted
    or changed kind (a file that became a folder, say).

    PATH is relative to the current folder when you are inside the backed-up folder,
    else to its root (an absolute path inside it works too)."""
    from agsekit.cli.render import print_json
    from agsekit.snapshots.history.files import file_history
    from agsekit.snapshots.history.selection import tree_path

    target = resolve_store(dest_dir, mount_path, config_path)
    source = target.live_source()
    rel = tree_path(path, source, Path.cwd())
    if restore_name is not None:
        from agsekit.cli.restoring import run_in_place
        from agsekit.snapshots.history.catalog import resolve_name
        from agsekit.snapshots.restore.plan import Wanted

        # checked before the safety snapshot: a typo must not cost a snapshot and a failure
        name = resolve_name(target.store, restore_name)
        run_in_place(target, [Wanted(name, (rel,))], source, delete=False, dry_run=False)
        return
    history = file_history(target.store, source, rel)
    if as_json:
        print_json(
            {
                **path_fields(history.path),
                "live": history.live,
                "versions": [
                    {
                        "first": v.first,
                        "last": v.last,
                        "time": iso_local(snapshot_time(v.first)),
                        "kind": _KIND_NAMES.get(v.kind, v.kind),
                        "size": v.size,
                        "sha256": v.sha256,
                        "digest": v.digest or None,
                        "deleted_in": v.deleted_in,
                    }
                    for v in history.versions
                ],
            }
        )
        return
    _print_history(history)


_KIND_NAMES = {"f": "file", "l": "symlink", "d": "folder", "other": "special"}


def _print_history(history: Any) -> None:
    from agsekit.cli.render import format_bytes

    now = datetime.now(timezone.utc)
    click.echo(f"History of {show_path(history.path)}:")
    previous_kind = None
    for v in history.versions:
        span = v.first if v.first == v.last else f"{v.first} .. {v.last}"
        kind = format_bytes(v.size) if v.kind == "f" else _KIND_NAMES.get(v.kind, v.kind)
        changed = (
            f"  (was a {_KIND_NAMES.get(previous_kind, previous_kind)})"
            if previous_kind is not None and previous_kind != v.kind
            else ""
        )
        digest = v.digest[:12] if v.digest else "-"
        click.echo(f"  {span}  {when(snapshot_time(v.first), now)}  {kind}  {digest}{changed}")
        if v.deleted_in:
            click.echo(f"  {v.deleted_in}  deleted")
        previous_kind = v.kind
    live = {
        "unchanged": "the live file is the latest version",
        "changed": "the live file differs from the latest version",
        "missing": "the live folder does not have it",
        "unreadable": "the live file cannot be read",
    }.get(history.live, f"the live path is {history.live}")
    click.echo(f"Now: {live}. Bring a version back with --restore NAME.")
