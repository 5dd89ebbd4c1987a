"""install-agents, run, up, down."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from agsekit.cli import completion
from agsekit.cli.options import config_option, load


def _ask(question: str) -> bool:
    """Ask on a terminal; without one the answer is no."""
    if not sys.stdin.isatty():
        return False
    return click.confirm(question, default=True)


@click.command("install-agents")
@click.argument("agents", nargs=-1, shell_complete=completion.agents)
@click.option("--all", "all_agents", is_flag=True, help="Every agent of the config (default).")
@click.option("--upgrade", is_flag=True, help="Install the newest (or pinned) version again.")
@click.option(
    "--vm", metavar="VM", help="Only the agents that run in this VM.", shell_complete=completion.vms
)
@config_option
def install_agents(
    agents: tuple[str, ...],
    all_agents: bool,
    upgrade: bool,
    vm: str | None,
    config_path: str | None,
) -> None:
    """Install agents into their VMs (Node.js too, for the agents that need it).

    Each agent goes into its `vm` (default: the VM of the mounts), as a user of its own
    (agsekit-NAME, no sudo) with its program under /opt/agsekit/agents/NAME, which only
    root can change; `isolation: none` keeps the old way (the VM's user, ~/.local).
    npm-based agents get Node.js from nodejs.org, checked against the release's SHA-256
    sums; aider is installed with pipx. What is already installed is left alone, so a
    second run only checks. A `version:` in the config pins the version.

    \b
    Examples:
      agsekit install-agents            # every configured agent
      agsekit install-agents claude     # one agent
      agsekit install-agents --upgrade  # newest versions
      agsekit install-agents --vm work  # the agents of the VM work
    """
    from agsekit.agents.install import agents_to_install
    from agsekit.agents.install import install_agents as install
    from agsekit.cli.render import TerminalReporter
    from agsekit.vm.backends import default_backend

    config = load(config_path)
    chosen = agents_to_install(config, list(agents), all_agents, vm)
    install(config, chosen, default_backend(), TerminalReporter(), upgrade=upgrade)


@click.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "--vm",
    help="Run in this VM (default: the agent's, else the mount's VM).",
    shell_complete=completion.vms,
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Project folder to work in (default: the current folder).",
)
@click.option("--no-backups", is_flag=True, help="Take no snapshots for this session.")
@click.option("--auto-mount", is_flag=True, help="Mount the folder without asking if needed.")
@click.option(
    "--share-mount",
    is_flag=True,
    help="Run an agent with keys even where another agent with keys works on the same "
    "VM's folders (either can leave code there that the other runs).",
)
@click.option(
    "--http-proxy",
    metavar="URL",
    help="HTTP(S) proxy for this session, over the agent's and the VM's `http_proxy` "
    "('' turns proxies off). Write a password as ${VAR}: a command line is visible to "
    "every process of this computer.",
)
@click.option(
    "--proxychains",
    metavar="URL",
    help="Run the agent under proxychains4 through this socks5/socks4/http proxy, for "
    "tools that ignore proxy variables ('' turns proxies off).",
)
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="Print nothing but the agent's own output (for an alias such as "
    "`alias codex='agsekit run -q codex'`); warnings that protect your data (a failed "
    "snapshot, the mass-deletion alarm) still go to stderr.",
)
@click.option(
    "--skip-default-args",
    is_flag=True,
    help="Leave out the agent's `default_args` from the config for this run.",
)
@click.option("--yes", "-y", is_flag=True, help="Write the starter config without asking.")
@config_option
@click.argument("agent", required=False, shell_complete=completion.agents)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run(
    ctx: click.Context,
    vm: str | None,
    workdir: Path | None,
    no_backups: bool,
    auto_mount: bool,
    share_mount: bool,
    http_proxy: str | None,
    proxychains: str | None,
    quiet: bool,
    skip_default_args: bool,
    yes: bool,
    config_path: str | None,
    agent: str | None,
    args: tuple[str, ...],
) -> int:
    """Run AGENT inside the VM on the current project folder; ARGS go to the agent untouched.

    The agent's `default_args` come first; an option in ARGS replaces the default option
    of the same name (`--model o3` over a default `--model o4-mini`) instead of doubling
    it; --skip-default-args leaves them all out.

    The folder must lie inside a mount of the config; inside the VM the agent starts in
    the same place under the mount's target. A snapshot is taken before the agent starts,
    at the mount's interval while it runs, and once more when it exits (Ctrl+C included);
    when the first one fails the agent is not started (--no-backups runs it without
    snapshots). The exit status is the agent's. Values in the agent's `env:` reach only
    the agent: never a command line, a log, the screen or a file in the VM.

    With no config file at all, offers to write a starter config (one VM, this folder,
    this agent). In a folder outside every mount, offers on a terminal to add it as a
    mount, as `agsekit addmount` does (default no).

    \b
    Examples:
      cd ~/projects/app && agsekit run claude
      agsekit run codex --model o3 "fix the failing test"
      agsekit run --workdir ~/projects/app/api aider --yes-always
      agsekit run --http-proxy 'http://me:${PROXY_PASSWORD}@proxy:3128' claude
      agsekit run -q codex exec "explain this repo"   # only codex's own output
    """
    from agsekit.config.paths import resolve_config_path

    path = resolve_config_path(config_path)
    folder = Path(os.path.abspath(workdir or Path.cwd()))
    if agent is None:
        agent = _choose_agent(config_path if path.exists() else None, path.exists())
    if not path.exists():
        return _offer_starter(path, folder, agent, yes)
    from agsekit.agents.run import RunRequest, run_agent
    from agsekit.cli.render import TerminalReporter
    from agsekit.config.model import Proxies
    from agsekit.vm.backends import default_backend

    proxies = Proxies(
        _proxy_option("--http-proxy", http_proxy, chains=False),
        _proxy_option("--proxychains", proxychains, chains=True),
    )
    request = RunRequest(
        proxies=proxies,
        agent=agent,
        args=args,
        workdir=folder,
        vm=vm,
        backups=not no_backups,
        auto_mount=auto_mount,
        debug=bool(ctx.obj and ctx.obj.get("debug")),
        share_mount=share_mount,
        skip_default_args=skip_default_args,
    )
    config = load(config_path)
    if config.mount_for(folder) is None:
        from agsekit.cli.config_edits import offer_mount

        config = offer_mount(path, folder, vm) or config
    reporter = TerminalReporter(out=sys.stderr, quiet_info=quiet, progress=not quiet)
    return run_agent(config, request, default_backend(), reporter, ask=_ask, environ=os.environ)


def _choose_agent(config_path: str | None, have_config: bool) -> str:
    """No AGENT given: at a terminal, a list of the config's agents to pick from."""
    from agsekit.cli.choose import choose
    from agsekit.core.errors import UsageError

    names = list(load(config_path).agents) if have_config else []
    known = ", ".join(names) or "none in the config"
    failure = UsageError("no agent was named", hint=f"agsekit run AGENT (agents: {known})")
    return choose("agent", names, failure)


def _proxy_option(name: str, value: str | None, *, chains: bool) -> str | None:
    """The option's URL, checked; never echoed with its password."""
    if not value:
        return value
    from agsekit.config.checks import proxy_url
    from agsekit.core import proxyurl

    schemes = proxyurl.CHAINS_SCHEMES if chains else proxyurl.HTTP_SCHEMES
    try:
        proxy_url(schemes)(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{exc} (got {proxyurl.redact(repr(value))})", param_hint=name
        ) from None
    if proxyurl.redact(value) != value and "${" not in value.split("@")[0]:
        click.echo(
            f"agsekit: warning: {name} holds a password, which every process of this "
            "computer can read on the command line; write it as ${VAR} instead",
            err=True,
        )
    return value


def _offer_starter(path: Path, folder: Path, agent: str, yes: bool) -> int:
    from agsekit.agents.starter import starter_config, write_starter
    from agsekit.config.model import AGENT_TYPES
    from agsekit.core.errors import UsageError

    if agent not in AGENT_TYPES:
        raise UsageError(
            f"no configuration file at {path}, and {agent!r} is not a known agent type",
            hint=f"known types: {', '.join(AGENT_TYPES)}",
        )
    text = starter_config(folder, agent)
    click.echo(f"There is no configuration at {path}. A starter config would be:\n", err=True)
    click.echo(text, err=True)
    if not yes and not _ask(f"Write it to {path}?"):
        raise UsageError(
            "no configuration written",
            hint=f"to write it without asking: agsekit run --yes {agent}  (options go before "
            "the agent's name; what follows it goes to the agent)",
        )
    write_starter(path, text)
    click.echo(
        f"Wrote {path}. Next:\n  agsekit up          # create the VM, install {agent}, mount "
        f"this folder\n  agsekit run {agent}",
        err=True,
    )
    return 0


@click.command("up")
@click.option("--yes", "-y", is_flag=True, help="Install missing host software without asking.")
@click.option(
    "--ignore-capacity",
    is_flag=True,
    help="Create the VMs even when they leave the host less than 1 CPU and 1 GiB of RAM.",
)
@config_option
def up(yes: bool, ignore_capacity: bool, config_path: str | None) -> None:
    """Bring everything up: host software, VMs, agents, mounts. Steps already done are
    skipped, so `up` is safe to run any time.

    \b
    Steps: prepare -> create-vms -> start VMs -> provision (the VMs' `install:`
    bundles) -> install-agents -> mount --all ->
    the background service (`agsekit daemon install`, skipped when it already runs;
    --yes also enables lingering, so that it runs without a login)
    """
    from agsekit.agents.updown import run_up, up_steps
    from agsekit.cli.render import TerminalReporter
    from agsekit.vm.backends import default_backend

    config = load(config_path)
    reporter = TerminalReporter()

    def prepare() -> str:
        from agsekit.cli.commands.vm import confirm
        from agsekit.vm.prerequisites import command_line, detect_host, make_plan, run_plan

        facts = detect_host()
        plan = make_plan(facts)
        if plan.nothing_to_do:
            return "already installed"
        for step in plan.steps:
            reporter.info(f"  will run: {' '.join(command_line(step, facts))}")
        confirm("Install the missing host software?", yes)
        run_plan(plan, facts, reporter)
        return "installed"

    def service() -> str:
        from agsekit.config.paths import resolve_config_path
        from agsekit.service.manage import ensure_running

        return ensure_running(resolve_config_path(config_path), ask=lambda _question: yes)

    steps = up_steps(
        config,
        default_backend(),
        reporter,
        prepare=prepare,
        ignore_capacity=ignore_capacity,
        service=service,
    )
    run_up(steps, reporter)
    reporter.info("Ready: cd into a mounted folder and `agsekit run AGENT`.")


@click.command("down")
@click.option("--force", is_flag=True, help="Stop the VMs even while agent sessions run.")
@click.option(
    "--stop-service", is_flag=True, help="Also stop the background service (it keeps running)."
)
@config_option
def down(force: bool, stop_service: bool, config_path: str | None) -> None:
    """Stop every configured VM; refuses while an agent session is running. The background
    service keeps snapshotting the host folders unless --stop-service is given: their
    protection does not depend on the VMs."""
    from agsekit.agents.updown import down as stop_all
    from agsekit.cli.render import TerminalReporter
    from agsekit.service.manage import control, installation
    from agsekit.vm.backends import default_backend

    reporter = TerminalReporter()
    stop_all(load(config_path), default_backend(), reporter, force=force)
    if stop_service:
        for line in control("stop").lines:
            reporter.info(line)
    elif installation().installed:
        reporter.info(
            "the background service keeps snapshotting the host folders "
            "(agsekit daemon stop, or down --stop-service, stops it)"
        )
