"""net: egress control. `net log` shows the allowlist proxy's decisions."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from agsekit.cli.options import json_option

if TYPE_CHECKING:
    from agsekit.network.egresslog import Entry

FOLLOW_PAUSE = 0.3


@click.group("net")
def net() -> None:
    """Egress control: where the agents' traffic went, and what was refused."""


@net.command("log")
@click.argument("vm", required=False)
@click.option("--denied", is_flag=True, help="Only the refused connections.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl+C stops).")
@json_option
def log(vm: str | None, denied: bool, follow: bool, as_json: bool) -> None:
    """The egress proxy's decisions (time, VM, agent, host:port, allowed or denied, why),
    of one VM or of all, oldest first. Names are shown escaped: a host is whatever the
    agent asked for. --json prints one JSON object a line."""
    from agsekit.config.checks import vm_name
    from agsekit.core.errors import UsageError
    from agsekit.network.egresslog import egress_dir, read_entries, vm_logs

    if vm is not None:
        try:
            vm_name(vm)
        except ValueError as exc:
            raise UsageError(f"{vm!r}: {exc}") from None
    paths = vm_logs(egress_dir(), vm)
    entries = sorted((e for p in paths for e in read_entries(p)), key=lambda e: e.time)
    _show(entries, denied, as_json)
    if not entries and not follow and not as_json:
        click.echo("no egress log yet (no agent has run in allowlist mode)", err=True)
    if follow:
        try:
            _follow(vm, denied, as_json)
        except KeyboardInterrupt:
            return


def _show(entries: Iterable[Entry], denied: bool, as_json: bool) -> None:
    for entry in entries:
        if denied and entry.allowed:
            continue
        click.echo(json.dumps(asdict(entry)) if as_json else _line(entry))
    sys.stdout.flush()


def _line(entry: Entry) -> str:
    from agsekit.core.display import show_path

    host = f"[{entry.host}]" if ":" in entry.host else entry.host
    verdict = "allowed" if entry.allowed else "denied"
    words = [show_path(w) for w in (entry.vm, entry.agent, f"{host}:{entry.port}")]
    return f"{entry.time}  {verdict}  {'  '.join(words)}  {show_path(entry.reason)}"


def _follow(vm: str | None, denied: bool, as_json: bool) -> None:
    """New lines of every log as they come; a log that shrank was rotated."""
    from agsekit.network.egresslog import Entry, egress_dir, vm_logs

    folder = egress_dir()
    positions = {p: _size(p) for p in vm_logs(folder, vm)}
    while True:
        time.sleep(FOLLOW_PAUSE)
        for path in vm_logs(folder, vm):
            size, position = _size(path), positions.get(path, 0)
            if size < position:
                position = 0
            if size == position:
                continue
            with open(path, "rb") as fh:
                fh.seek(position)
                chunk = fh.read()
            whole = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits
            positions[path] = position + len(whole)
            lines = whole.decode("utf-8", "replace").splitlines()
            _show(filter(None, map(Entry.from_json, lines)), denied, as_json)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
