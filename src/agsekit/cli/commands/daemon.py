"""agsekit daemon run | status | logs | install | uninstall | start | stop | restart."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

import click

from agsekit.cli.options import config_option, json_option


@click.group("daemon")
def daemon() -> None:
    """The background service that snapshots every configured folder when it changes.

    \b
    Install it once:   agsekit daemon install     (a systemd user unit / a LaunchAgent)
    See what it does:  agsekit daemon status, agsekit daemon logs -f
    Run it by hand:    agsekit daemon run         (in the foreground; what the unit starts)
    """


@daemon.command("run")
@config_option
def run(config_path: str | None) -> int:
    """Watch every configured mount in the foreground until stopped (Ctrl+C, SIGTERM).

    A change is snapshotted once the tree has been quiet for `debounce` (at most
    `max_delay` after the first change, at least `min_interval` after the last snapshot);
    every `interval` minutes a full check catches anything the events missed. The config
    is reloaded when its file changes (or on SIGHUP); one that does not load keeps the last
    good one running and is reported by `agsekit daemon status`.
    """
    from agsekit.config.load import load_config
    from agsekit.config.paths import resolve_config_path
    from agsekit.service.daemon import Daemon, DaemonSetup
    from agsekit.service.manage import agsekit_command
    from agsekit.service.state import DaemonLog, log_path, state_dir
    from agsekit.tools.notify import notify_session

    setup = DaemonSetup(
        config_path=resolve_config_path(config_path),
        state=state_dir(),
        log=DaemonLog(log_path()),
        loader=load_config,
        notifier=notify_session,
        agsekit=" ".join(agsekit_command()),
    )
    service = Daemon(setup)
    received: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) == 1:  # a second signal must not cut the cleanup short
            raise KeyboardInterrupt

    def reload(signum: int, frame: FrameType | None) -> None:
        service.reload_now.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    signal.signal(signal.SIGHUP, reload)
    try:
        service.run(threading.Event())
    except KeyboardInterrupt:
        return 128 + (received[0] if received else signal.SIGINT)
    return 0


@daemon.command("status")
@json_option
def status(as_json: bool) -> None:
    """Whether the service is installed and running, and per mount: watching or polling
    (and why), the last snapshot, the last error, pending changes."""
    from agsekit.cli.service_render import print_service, service_json
    from agsekit.service.manage import installation
    from agsekit.service.state import read_status

    found = read_status()
    installed = installation()
    if as_json:
        from agsekit.cli.render import print_json

        print_json(service_json(found, installed))
        return
    print_service(found, installed)


@daemon.command("logs")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl+C stops).")
@click.option("-n", "--lines", default=50, show_default=True, help="How many last lines.")
def logs(follow: bool, lines: int) -> None:
    """The service's own log: snapshots taken, checks, failures, alarms, config errors."""
    from agsekit.service.state import log_path

    path = log_path()
    if not path.exists() and not follow:
        click.echo(f"no log yet at {path} (the service has not run)", err=True)
        return
    for line in _tail(path, lines):
        click.echo(line)
    if follow:
        try:
            _follow(path)
        except KeyboardInterrupt:
            return


def _tail(path: Path, count: int) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return [line.rstrip("\n") for line in fh.readlines()[-count:]] if count > 0 else []
    except OSError:
        return []


def _follow(path: Path) -> None:
    position = path.stat().st_size if path.exists() else 0
    while True:
        time.sleep(0.3)
        try:
            size = path.stat().st_size
        except OSError:
            continue
        if size < position:
            position = 0  # rotated
        if size == position:
            continue
        with open(path, encoding="utf-8", errors="replace") as fh:
            fh.seek(position)
            chunk = fh.read()
            position = fh.tell()
        sys.stdout.write(chunk)
        sys.stdout.flush()


@daemon.command("install")
@click.option("--yes", "-y", is_flag=True, help="Enable lingering without asking.")
@click.option("--no-linger", is_flag=True, help="Do not offer `loginctl enable-linger`.")
@config_option
def install(yes: bool, no_linger: bool, config_path: str | None) -> None:
    """Install the service (a systemd user unit, or a LaunchAgent on macOS) and start it.

    The unit starts this agsekit, by its absolute path, with the config found now (given
    by --config, $CONFIG_PATH or the default place). Run it again after installing
    agsekit somewhere else: the unit is rewritten to start the new one. On Linux it offers
    `loginctl enable-linger`, so that the service runs from boot, logged in or not.
    """
    from agsekit.config.paths import resolve_config_path
    from agsekit.service.manage import install as do_install

    def ask(question: str) -> bool:
        if no_linger:
            return False
        if yes:
            return True
        return sys.stdin.isatty() and click.confirm(question, default=True)

    for line in do_install(resolve_config_path(config_path), ask=ask).lines:
        click.echo(line)


@daemon.command("uninstall")
def uninstall() -> None:
    """Stop the service and remove its unit. Snapshots and the config are untouched."""
    from agsekit.service.manage import uninstall as do_uninstall

    for line in do_uninstall().lines:
        click.echo(line)


def _control(verb: str) -> None:
    from agsekit.service.manage import control

    for line in control(verb).lines:
        click.echo(line)


@daemon.command("start")
def start() -> None:
    """Start the installed service."""
    _control("start")


@daemon.command("stop")
def stop() -> None:
    """Stop the installed service (an unfinished snapshot is removed first)."""
    _control("stop")


@daemon.command("restart")
def restart() -> None:
    """Restart the installed service (after raising an inotify limit, say)."""
    _control("restart")
