"""`model:` on an agent: one setting for the endpoint, the model and the key, turned into
what each agent type reads. A real agent from the registry talks to a model server on
loopback, which checks the model name and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from agsekit.agents.endpoint import KEY_VARIABLE, endpoint_setup
from agsekit.config.model import ENDPOINT_APIS, ModelEndpoint
from tests.agents.conftest import Setup, config_text, files_containing, needs_registry
from tests.fakes.model_server import REPLY, model_server
from tests.helpers import run_cli

KEY = "sk-test-Endp0int-k3y-9f1e"


def agent_with_model(agent_type: str, base_url: str, extra: str = "") -> str:
    return (
        f"  {agent_type}-local:\n    type: {agent_type}\n{extra}"
        f"    model:\n      base_url: {base_url}\n      model: coder-test-1\n"
        "      api_key: ${TEST_MODEL_KEY}\n"
    )


@needs_registry
def test_a_real_agent_sends_its_request_to_the_configured_endpoint(bare: Setup) -> None:
    with model_server() as server:
        agents = agent_with_model("opencode", server.base_url)
        bare.config.write_text(config_text(bare.project, bare.backups, bare.vm, agents))
        bare.env["TEST_MODEL_KEY"] = KEY
        installed = bare.run("install-agents")
        assert installed.returncode == 0, installed.stdout + installed.stderr
        result = bare.run("--debug", "run", "opencode-local", "run", "say hello")
        assert result.returncode == 0, result.stdout + result.stderr
        assert REPLY in result.stdout
        chats = [r for r in server.requests if r.path.endswith("/chat/completions")]
        assert chats, server.requests
        assert {(r.model, r.key) for r in chats} == {("coder-test-1", KEY)}
        assert KEY not in result.stdout + result.stderr
        assert files_containing(bare.state, KEY) == []  # the double's state and the guest's files
        assert files_containing(Path(bare.env["HOME"]), KEY) == []  # the host's logs and state


CONFIG = """\
vms:
  vm1: {{}}
mounts:
  - source: /srv/p
agents:
  one:
    type: {agent_type}
    model:
      base_url: {url}
      model: m1
      api_key: {key}
"""


def check(tmp_path: Path, agent_type: str, url: str, key: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(agent_type=agent_type, url=url, key=key))
    result = run_cli("config-check", "--config", path, timeout=60)
    assert "Traceback" not in result.stderr
    return result.stderr if result.returncode else ""


@pytest.mark.parametrize(
    ("agent_type", "url", "key", "problem"),
    [
        ("gemini", "http://h:1/v1", "${K}", "a gemini agent cannot be given another model"),
        ("copilot", "http://h:1/v1", "${K}", "a copilot agent cannot be given another model"),
        ("qwen", "http://h:1/v1", "sk-literal", "must be a reference to a variable of the host"),
        ("qwen", "http://me:pw@h:1/v1", "${K}", "must not hold a user or password"),
        ("qwen", "ftp://h/v1", "${K}", "must be an http:// or https:// URL"),
        ("qwen", "http://h:1/v1?x=1", "${K}", "without spaces, query or fragment"),
    ],
)
def test_bad_model_settings_are_config_errors(
    tmp_path: Path, agent_type: str, url: str, key: str, problem: str
) -> None:
    err = check(tmp_path, agent_type, url, key)
    assert "agents.one.model" in err
    assert problem in err
    assert "sk-literal" not in err and ":pw@" not in err  # a config error shows no secret


def test_each_type_that_takes_an_endpoint_gets_url_model_and_key() -> None:
    endpoint = ModelEndpoint("http://127.0.0.1:9/v1", "m1", "${K}")
    for agent_type in ENDPOINT_APIS:
        setup = endpoint_setup(agent_type, endpoint)
        text = " ".join([*(f"{k}={v}" for k, v in setup.env), *setup.args, *setup.default_args])
        assert "http://127.0.0.1:9/v1" in text, agent_type
        assert "m1" in text, agent_type
        assert "${K}" in dict(setup.env).values(), agent_type  # the key only in the env
        assert "${K}" not in " ".join([*setup.args, *setup.default_args])
    codex = endpoint_setup("codex", endpoint)
    assert (KEY_VARIABLE, "${K}") in codex.env
    assert codex.default_args == ("-m", "m1")
