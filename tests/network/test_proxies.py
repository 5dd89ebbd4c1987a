"""Proxies for agents and install steps (issue 10, part 1), with a real proxy on loopback:
what it logged is what counts, not the variables agsekit set."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from agsekit.agents import scripts
from agsekit.agents.install import script_command
from agsekit.agents.secrets import AgentEnvironment
from agsekit.network.proxies import http_environment
from agsekit.vm.multipass_backend import MultipassBackend
from tests.agents.conftest import Setup, agent_yaml, config_text
from tests.network.conftest import PAGE, RunningProxy, start_proxy

PASSWORD = "Pr0xy-Pa55-e1d3"  # noqa: S105 - a test value that must never leak
SITE = "http://api.example.test/v1/hello"
MakeProxy = Callable[..., RunningProxy]


def use_agent(setup: Setup, extra: str = "", vm_extra: str = "") -> None:
    text = config_text(
        setup.project,
        setup.backups,
        setup.vm,
        agent_yaml("claude", "claude", "TEST_AGENT_TOKEN", extra),
    )
    if vm_extra:
        text = text.replace("    disk: 3G\n", "    disk: 3G\n" + vm_extra, 1)
    setup.config.write_text(text)


def fetched(setup: Setup) -> str:
    evidence = setup.evidence
    status = (evidence / "fetch-status").read_text().strip()
    assert status == "0", (evidence / "fetch-error").read_text()
    return (evidence / "fetched").read_text().strip()


@pytest.fixture
def proxies(tmp_path: Path, proxy_factory: list[RunningProxy]) -> MakeProxy:
    def make(name: str, **options: str) -> RunningProxy:
        started = start_proxy(tmp_path / name, **options)
        proxy_factory.append(started)
        return started

    return make


def test_agent_reaches_a_site_through_the_vm_http_proxy(
    setup: Setup, web: int, proxies: MakeProxy
) -> None:
    proxy = proxies("p", target=f"127.0.0.1:{web}")
    use_agent(setup, vm_extra=f"    http_proxy: {proxy.url()}\n")
    result = setup.run("run", "claude", "fetch", SITE)
    assert result.returncode == 0, result.stderr
    assert fetched(setup) == PAGE
    assert f"GET {SITE}" in proxy.lines()
    names = (setup.evidence / "proxy-names").read_text().split()
    assert {
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
    } <= set(names)
    assert "NODE_USE_ENV_PROXY" in names  # claude is a Node.js agent
    assert (
        f"proxy for claude: {proxy.url()} through HTTP(S)_PROXY (from VM {setup.vm})"
        in result.stderr
    )


def test_agent_value_wins_over_the_vm_and_run_option_over_both(
    setup: Setup,
    web: int,
    proxies: MakeProxy,
) -> None:
    vm_proxy, agent_proxy, run_proxy = (proxies(n, target=f"127.0.0.1:{web}") for n in "var")
    use_agent(
        setup, f"    http_proxy: {agent_proxy.url()}\n", f"    http_proxy: {vm_proxy.url()}\n"
    )
    assert setup.run("run", "claude", "fetch", SITE).returncode == 0
    assert agent_proxy.lines() and not vm_proxy.lines()
    result = setup.run("run", "--http-proxy", run_proxy.url(), "claude", "fetch", SITE + "?run")
    assert result.returncode == 0, result.stderr
    assert run_proxy.lines() == [f"GET {SITE}?run"]
    assert len(agent_proxy.lines()) == 1


def test_an_empty_string_turns_the_proxy_off(setup: Setup, web: int, proxies: MakeProxy) -> None:
    proxy = proxies("p", target=f"127.0.0.1:{web}")
    use_agent(setup, '    http_proxy: ""\n', f"    http_proxy: {proxy.url()}\n")
    setup.run("run", "claude", "fetch", f"http://127.0.0.1:{web}/direct")
    assert fetched(setup) == PAGE
    assert proxy.lines() == []
    assert (setup.evidence / "proxy-names").read_text().split() == []


@pytest.mark.skipif(shutil.which("proxychains4") is None, reason="proxychains4 is not installed")
@pytest.mark.parametrize("scheme", ["socks5", "http"])
def test_proxychains_carries_an_agent_that_ignores_proxy_variables(
    setup: Setup,
    web: int,
    proxies: MakeProxy,
    scheme: str,
) -> None:
    proxy = proxies("p", target=f"127.0.0.1:{web}", auth=f"me:{PASSWORD}")
    use_agent(setup, f"    proxychains: {proxy.url(scheme, 'me:${PROXY_PASSWORD}')}\n")
    setup.env["PROXY_PASSWORD"] = PASSWORD
    result = setup.run("--debug", "run", "claude", "fetch", SITE)
    assert result.returncode == 0, result.stderr
    assert fetched(setup) == PAGE
    kind = "SOCKS5" if scheme == "socks5" else "CONNECT"
    assert f"{kind} api.example.test:80 user=me" in proxy.lines()
    assert "DENIED" not in "".join(proxy.lines())
    names = (setup.evidence / "proxy-names").read_text().split()
    assert [n for n in names if not n.startswith("PROXYCHAINS_")] == []  # proxychains' own only
    assert PASSWORD not in result.stdout + result.stderr
    assert "me:******@" in result.stderr
    # the settings file lived only as long as the session
    assert not list(setup.state.rglob("proxychains.conf"))


def test_proxy_password_never_leaks(setup: Setup, web: int, proxies: MakeProxy) -> None:
    proxy = proxies("p", target=f"127.0.0.1:{web}", auth=f"me:{PASSWORD}")
    use_agent(setup, f"    http_proxy: {proxy.url(auth='me:${PROXY_PASSWORD}')}\n")
    setup.env["PROXY_PASSWORD"] = PASSWORD
    result = setup.run("--debug", "run", "claude", "wait", "p")
    assert result.returncode == 0, result.stderr
    assert "GET" not in "".join(proxy.lines())  # the stand-in only waited
    leaks = [p for p in setup.state.rglob("*") if p.is_file() and not p.is_symlink() and _holds(p)]
    assert leaks == []
    assert PASSWORD not in result.stdout + result.stderr
    logs = Path(setup.env["HOME"]) / ".local" / "state"
    assert not [p for p in logs.rglob("*") if p.is_file() and _holds(p)]


def _holds(path: Path) -> bool:
    try:
        return PASSWORD.encode() in path.read_bytes()
    except OSError:
        return False


def test_proxy_password_not_on_any_command_line_while_the_agent_runs(
    setup: Setup,
    web: int,
    proxies: MakeProxy,
) -> None:
    proxy = proxies("p", target=f"127.0.0.1:{web}")
    use_agent(setup, f"    http_proxy: {proxy.url(auth='me:${PROXY_PASSWORD}')}\n")
    setup.env["PROXY_PASSWORD"] = PASSWORD
    setup.env["TEST_AGENT_TOKEN"] = PASSWORD  # the stand-in looks for its token in cmdlines
    result = setup.run("run", "claude", "wait", "c")
    assert result.returncode == 0, result.stderr
    assert (setup.evidence / "cmdline-hits-c").read_text() == ""


def test_config_errors_show_the_url_without_its_password(setup: Setup) -> None:
    use_agent(setup, f"    http_proxy: ftp://me:{PASSWORD}@proxy:21\n")
    result = setup.run("config-check")
    assert result.returncode != 0
    assert "agents.claude.http_proxy: a proxy URL starts with http:// or https://" in result.stderr
    assert PASSWORD not in result.stderr and "me:******@proxy:21" in result.stderr
    use_agent(setup, "    http_proxy: http://a:1\n    proxychains: socks5://b:2\n")
    both = setup.run("config-check")
    assert "set either http_proxy or proxychains, not both" in both.stderr
    bad_cli = setup.run("run", "--http-proxy", f"socks5://me:{PASSWORD}@h:1", "claude")
    assert bad_cli.returncode == 2 and PASSWORD not in bad_cli.stderr


def test_doctor_reports_each_proxy_in_one_line(setup: Setup, web: int, proxies: MakeProxy) -> None:
    good = proxies("good", target=f"127.0.0.1:{web}")
    locked = proxies("locked", target=f"127.0.0.1:{web}", auth="me:right")
    closed = start_proxy(setup.state.parent / "closed")
    closed.process.terminate()
    closed.process.wait()
    agents = (
        agent_yaml(
            "claude",
            "claude",
            "TEST_AGENT_TOKEN",
            f"    http_proxy: {locked.url(auth='me:wrong')}\n",
        )
        + agent_yaml(
            "codex", "codex", "TEST_OTHER_TOKEN", f"    proxychains: {closed.url('socks5')}\n"
        )
        + agent_yaml(
            "aider",
            "aider",
            "TEST_OTHER_TOKEN",
            "    proxychains: socks5://no-such-host.invalid:1080\n",
        )
    )
    text = config_text(setup.project, setup.backups, setup.vm, agents)
    setup.config.write_text(
        text.replace("    disk: 3G\n", f"    disk: 3G\n    http_proxy: {good.url()}\n", 1)
    )
    result = setup.run("doctor")
    out = result.stdout + result.stderr
    assert re.search(
        rf"the proxy of VM {setup.vm} \(http://127.0.0.1:{good.port}\) answers", out
    ), out
    assert "CONNECT registry.npmjs.org:443" in good.lines()
    assert "http 407" in out and "me:******@" in out and "me:wrong" not in out
    assert f"refused: nothing accepts connections at 127.0.0.1:{closed.port}" in out
    assert "dns: the proxy's host no-such-host.invalid does not resolve" in out


def test_install_steps_run_through_the_proxy(
    bare: Setup, web: int, proxies: MakeProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment every install step gets reaches the tools it runs under sudo."""
    for name, value in bare.env.items():
        monkeypatch.setenv(name, value)  # the backend in this process finds the double
    proxy = proxies("p", target=f"127.0.0.1:{web}")
    env = AgentEnvironment(tuple(http_environment(proxy.url())), frozenset())
    step = (
        "set -euo pipefail\n"
        "sudo -n -H python3 -c 'import sys, urllib.request\n"
        'print(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode())\' "$1"\n'
    )
    argv, stdin = script_command(step, [SITE], env)
    assert proxy.url() not in " ".join(argv)
    result = MultipassBackend().exec(bare.vm, argv, input=stdin)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == PAGE
    assert proxy.lines() == [f"GET {SITE}"]
    assert scripts.READ_ENVIRONMENT in argv[2]


def test_install_agents_passes_the_vm_proxy_to_its_steps(
    bare: Setup, web: int, proxies: MakeProxy
) -> None:
    """A real install step (the Node.js download) through the proxy: the proxy sees it."""
    proxy = proxies("p", target=f"127.0.0.1:{web}")
    text = config_text(bare.project, bare.backups, bare.vm, "  codex:\n    type: codex\n")
    bare.config.write_text(
        text.replace("    disk: 3G\n", f"    disk: 3G\n    http_proxy: {proxy.url()}\n", 1)
    )
    result = bare.run("install-agents", "codex")
    # the proxy sends every tunnel to the loopback page, so the download fails, after the
    # proxy saw it
    tunnels = [line for line in proxy.lines() if line.startswith("CONNECT ")]
    assert tunnels, result.stdout + result.stderr
    assert any(("nodejs.org:443" in t) or ("registry.npmjs.org:443" in t) for t in tunnels)


def test_run_says_an_allowlist_is_not_enforced_yet(setup: Setup) -> None:
    use_agent(setup, vm_extra="    network: {mode: allowlist, allow: [anthropic]}\n")
    result = setup.run("run", "claude", "fetch", SITE)
    assert "network mode allowlist is not enforced yet: claude can reach any host" in (
        result.stdout + result.stderr
    )
