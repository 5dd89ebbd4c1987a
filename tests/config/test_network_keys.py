"""`network:` on VMs and agents: presets, domains and wildcards checked one by one, the
agent's keys over its VM's, and keys that an open mode would silently ignore."""

from __future__ import annotations

from pathlib import Path

import pytest

from agsekit.config.load import load_config
from agsekit.config.model import Config, NetworkPolicy
from agsekit.core.errors import ConfigError
from agsekit.network.allowlist import Rules


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_config(path)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return info.value.problems


def test_default_is_open_and_allowlist_blocks_the_lan(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "vms:\n  a: {}\n  b:\n    network:\n      mode: allowlist\n"
        "      allow: [anthropic, '*.npmjs.org', Example.COM.]\n",
    )
    assert config.vms["a"].network == NetworkPolicy()
    assert config.vms["b"].network == NetworkPolicy(
        "allowlist", ("anthropic", "*.npmjs.org", "Example.COM."), True
    )


def test_an_agent_overrides_its_vm_key_by_key(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "vms:\n  a:\n    network: {mode: allowlist, allow: [github]}\n"
        "agents:\n"
        "  claude:\n    type: claude\n    vm: a\n    network: {allow: [anthropic]}\n"
        "  codex:\n    type: codex\n    vm: a\n    network: {mode: open}\n"
        "  aider:\n    type: aider\n    vm: a\n",
    )
    agents = config.agents
    assert config.network_for(agents["claude"], "a") == NetworkPolicy(
        "allowlist", ("anthropic",), True
    )
    assert config.network_for(agents["codex"], "a") == NetworkPolicy()
    assert config.network_for(agents["aider"], "a") == config.vms["a"].network


def test_an_unknown_preset_is_named_with_its_line(tmp_path: Path) -> None:
    found = problems(
        tmp_path, "vms:\n  a:\n    network:\n      mode: allowlist\n      allow: [githb]\n"
    )
    assert len(found) == 1
    assert found[0].startswith("config.yaml:5: vms.a.network.allow[0]: unknown preset")
    assert "did you mean 'github'?" in found[0]
    assert "(got 'githb')" in found[0]


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("'*'", "unknown preset"),
        ("'*.com'", "below a top-level"),
        ("'a.*.example.com'", "only as the whole first label"),
        ("'**.example.com'", "only as the whole first label"),
        ("https://example.com", "not a domain"),
        ("example.com:443", "not a domain"),
        ("'exa mple.com'", "not a domain"),
        ("'-bad.example.com'", "not a domain"),
        ("'bücher.example'", "not a domain"),
        ("'a..b'", "not a domain"),
    ],
)
def test_malformed_entries_are_refused(tmp_path: Path, entry: str, words: str) -> None:
    found = problems(
        tmp_path, f"vms:\n  a:\n    network:\n      mode: allowlist\n      allow: [{entry}]\n"
    )
    assert len(found) == 1, found
    assert "vms.a.network.allow[0]" in found[0]
    assert words in found[0]


def test_allow_where_the_mode_is_open_is_a_problem(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "vms:\n  a:\n    network:\n      allow: [pypi]\n"
        "agents:\n  claude:\n    type: claude\n    vm: a\n"
        "    network:\n      block_host_and_lan: false\n",
    )
    assert found == [
        "config.yaml:4: vms.a.network.allow: has no effect while the mode is open: add "
        "`mode: allowlist` (here or on the VM) to enforce it",
        "config.yaml:10: agents.claude.network.block_host_and_lan: has no effect while the "
        "mode is open: add `mode: allowlist` (here or on the VM) to enforce it",
    ]


def test_unknown_keys_and_modes_are_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, "vms:\n  a:\n    network:\n      mode: closed\n      alow: []\n")
    assert any("vms.a.network.mode" in p and "'open' or 'allowlist'" in p for p in found)
    assert any("did you mean 'allow'?" in p for p in found)


def test_rules_match_exactly_by_wildcard_and_without_case() -> None:
    rules = Rules.from_entries(["github", "Api.Example.com.", "*.npmjs.org", "203.0.113.7"])
    assert rules.allows("api.example.com")
    assert rules.allows("API.EXAMPLE.COM.")
    assert not rules.allows("x.api.example.com")
    assert rules.allows("registry.npmjs.org")
    assert rules.allows("a.b.npmjs.org")
    assert not rules.allows("npmjs.org")
    assert not rules.allows("evilnpmjs.org")
    assert not rules.allows("npmjs.org.evil.test")
    assert rules.allows("raw.githubusercontent.com")
    assert rules.allows("203.0.113.7")
    assert not rules.allows("203.0.113.8")
    assert not rules.allows("[::1]")
    assert not rules.allows("github.com\x00.evil.test")
    assert not rules.allows("")
