"""config-check shows each level's proxy with its password masked, in text and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run_cli

SECRET = "s3cret-Pw"  # noqa: S105 (a test value)
CONFIG = f"""\
vms:
  a:
    http_proxy: http://me:{SECRET}@proxy.test:3128
mounts:
  - source: /srv/p
agents:
  claude:
    type: claude
    proxychains: socks5://10.0.0.1:1080
  codex:
    type: codex
    http_proxy: ""
  aider:
    type: aider
"""


def test_config_check_shows_proxies_without_passwords(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    proc = run_cli("config-check", "--config", str(path), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert "  vm a: 2 CPU, 4G RAM, 20G disk; http_proxy: http://me:******@proxy.test:3128" in lines
    assert "  agent claude: claude; proxychains: socks5://10.0.0.1:1080" in lines
    assert "  agent codex: codex; http_proxy: off" in lines
    assert "  agent aider: aider" in lines
    as_json = json.loads(
        run_cli("config-check", "--config", str(path), "--json", timeout=60).stdout
    )
    assert as_json["vms"]["a"]["http_proxy"] == "http://me:******@proxy.test:3128"
    assert as_json["agents"]["codex"]["http_proxy"] == ""
    assert "http_proxy" not in as_json["agents"]["aider"]


def test_a_password_with_url_characters_is_masked_whole(tmp_path: Path) -> None:
    """A password written without percent-encoding may hold @, / or a space: it is masked
    whole, in config-check's text and JSON and in the error of a URL that does not parse."""
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.replace(SECRET, "Hunter2@Second-half"))
    proc = run_cli("config-check", "--config", str(path), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Second-half" not in proc.stdout + proc.stderr
    assert "http_proxy: http://me:******@proxy.test:3128" in proc.stdout
    as_json = run_cli("config-check", "--config", str(path), "--json", timeout=60).stdout
    assert "Second-half" not in as_json
    for password in ("First/Second-half", "First Second-half", "First@Sec/ond-half"):
        path.write_text(CONFIG.replace(SECRET, password))
        bad = run_cli("config-check", "--config", str(path), timeout=60)
        assert bad.returncode == 2, bad.stderr
        assert "vms.a.http_proxy: " in bad.stderr
        assert "Second-half" not in bad.stderr and "ond-half" not in bad.stderr
        assert "(got 'http://me:******@proxy.test:3128')" in bad.stderr


def test_run_option_errors_mask_a_password_with_a_newline(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    for option in ("--http-proxy", "--proxychains"):
        url = "http://me:First\nSecond-half@proxy.test:3128"
        proc = run_cli("run", "--config", str(path), option, url, "claude", timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert "no spaces or control characters" in proc.stderr
        assert "First" not in proc.stderr and "Second-half" not in proc.stderr
        assert "(got 'http://me:******@proxy.test:3128')" in proc.stderr


def test_config_errors_never_show_a_literal_env_value_or_model_key(tmp_path: Path) -> None:
    """env: values and the model's key are secrets even when written into the config: an
    error names the key and says what is wrong, never the value (nor the agent or model:
    that holds it, given in the wrong shape)."""
    path = tmp_path / "config.yaml"
    path.write_text(
        "agents:\n"
        "  claude:\n    type: claude\n    env:\n      TOKEN: 884213377\n"
        '      OTHER: "sk-Nul\\0Key31"\n'
        "    model: {base_url: 'http://127.0.0.1:1/v1', model: m, api_key: [sk-ListKey12]}\n"
        "  qwen:\n    type: qwen\n    model: [http://127.0.0.1:1/v1, sk-ShapeKey99]\n"
        "  aider: [aider, sk-AgentKey77]\n"
    )
    proc = run_cli("config-check", "--config", str(path), timeout=60)
    assert proc.returncode == 2, proc.stderr
    for secret in ("884213377", "Nul", "sk-ListKey12", "sk-ShapeKey99", "sk-AgentKey77"):
        assert secret not in proc.stderr
    lines = proc.stderr.splitlines()
    assert (
        "  config.yaml:5: agents.claude.env.TOKEN: input should be a valid string (got ******)"
        in lines
    )
    assert any(
        line.startswith("  config.yaml:6: agents.claude.env.OTHER: must not contain NUL")
        for line in lines
    )
    assert any(line.startswith("  config.yaml:10: agents.qwen.model: ") for line in lines)
    assert any(line.startswith("  config.yaml:11: agents.aider: ") for line in lines)
