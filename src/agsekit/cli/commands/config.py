"""config-example and config-check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from agsekit.cli.options import config_option, json_option, load

if TYPE_CHECKING:
    from agsekit.config.model import BundleSpec, ModelEndpoint, Proxies


@click.command("config-example")
def config_example() -> None:
    """Print a fully commented example configuration.

    \b
    Example:
      agsekit config-example > ~/.config/agsekit/config.yaml
    """
    from importlib.resources import files

    click.echo(files("agsekit.config").joinpath("example.yaml").read_text(), nl=False)


def _install(specs: tuple[BundleSpec, ...]) -> dict[str, list[str]]:
    """A VM's bundles as written (NAME or NAME:VERSION); nothing when it lists none."""
    items = [f"{s.name}:{s.version}" if s.version else s.name for s in specs]
    return {"install": items} if items else {}


@click.command("config-check")
@config_option
@json_option
def config_check(config_path: str | None, as_json: bool) -> None:
    """Validate the configuration and show every value after defaults are filled in, and
    warn where the agents sharing a VM are not kept apart."""
    from agsekit.agents.install import read_records
    from agsekit.agents.isolation import exposures, sharing_warnings

    config = load(config_path)
    warnings = [f"{e.message}\n    hint: {e.hint}" for e in exposures(config, read_records())]
    warnings += sharing_warnings(config)
    summary: dict[str, Any] = {
        "path": str(config.path),
        "vms": {
            name: {
                "cpu": vm.cpu,
                "ram": vm.ram,
                "disk": vm.disk,
                **_proxy(vm.proxies),
                **_install(vm.install),
            }
            for name, vm in config.vms.items()
        },
        "mounts": [
            {
                "source": str(m.source),
                "target": m.target,
                "backup": str(m.backup),
                "interval": m.interval_minutes,
                "vm": m.vm,
                "exclude": list(m.exclude),
                "ignore_files": m.ignore_files,
                "reserve": m.reserve,
                "debounce": m.timing.debounce,
                "max_delay": m.timing.max_delay,
                "min_interval": m.timing.min_interval,
            }
            for m in config.mounts
        ],
        "ignore_files": config.ignore_files,
        "reserve": config.reserve,
        "watch_budget": config.watch_budget,
        "agents": {
            name: {
                "type": a.type,
                "vm": a.vm,
                "isolation": a.isolation,
                **_proxy(a.proxies),
                **_model(a.model),
            }
            for name, a in config.agents.items()
        },
        "warnings": warnings,
    }
    if as_json:
        from agsekit.cli.render import print_json

        print_json(summary)
        return
    click.echo(f"{config.path}: valid")
    for name, vm in summary["vms"].items():
        click.echo(
            f"  vm {name}: {vm['cpu']} CPU, {vm['ram']} RAM, {vm['disk']} disk{_shown_proxy(vm)}"
        )
    for m in summary["mounts"]:
        click.echo(
            f"  mount {m['source']} -> {m['vm']}:{m['target']}, "
            f"snapshots in {m['backup']} every {m['interval']:g} min"
        )
        click.echo(f"    {_snapshot_rules(m)}")
        click.echo(
            f"    service: snapshot {m['debounce']:g}s after the last change, at most "
            f"{m['max_delay']:g}s after the first, at least {m['min_interval']:g}s apart"
        )
    for name, a in summary["agents"].items():
        own = " (as the VM's user)" if a["isolation"] == "none" else ""
        click.echo(f"  agent {name}: {a['type']}{own}{_shown_proxy(a)}{_shown_model(a)}")
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


def _proxy(proxies: Proxies) -> dict[str, str]:
    """The proxy keys set at this level, passwords masked (None: not set; "": off)."""
    from agsekit.core.proxyurl import redact

    values = {"http_proxy": proxies.http_proxy, "proxychains": proxies.proxychains}
    return {key: redact(value) for key, value in values.items() if value is not None}


def _model(endpoint: ModelEndpoint | None) -> dict[str, dict[str, str | None]]:
    """The agent's model endpoint; the key only as the name of its variable."""
    if endpoint is None:
        return {}
    return {
        "model": {
            "base_url": endpoint.base_url,
            "model": endpoint.model,
            "api_key": endpoint.api_key,
        }
    }


def _shown_model(item: dict[str, Any]) -> str:
    model = item.get("model")
    return f"; model {model['model']} at {model['base_url']}" if model else ""


def _shown_proxy(item: dict[str, Any]) -> str:
    for key in ("http_proxy", "proxychains"):
        if key in item:
            return f"; {key}: {item[key] or 'off'}"
    return ""


def _snapshot_rules(mount: dict[str, Any]) -> str:
    excludes = ", ".join(repr(pattern) for pattern in mount["exclude"]) or "none"
    applied = {
        "host": "exclude patterns only",
        "tree": ".backupignore files only",
        "both": "exclude patterns and .backupignore files",
    }[mount["ignore_files"]]
    return (
        f"exclude: {excludes}; ignore_files: {mount['ignore_files']} ({applied}); "
        f"reserve: {mount['reserve'] * 100:g}% of the store's filesystem"
    )
