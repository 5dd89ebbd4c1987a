"""config-gen on a real pseudo-terminal (pexpect): every question answered, wrong answers
first, each of which must be asked again; the file it writes passes config-check."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect

from tests.helpers import run_cli

CLEAR = "\x15"  # Ctrl+U: empties the answer line (it may hold the default)
DOWN = "\x1b[B"


class Wizard:
    def __init__(self, config: Path, cwd: Path, home: Path, *extra: str) -> None:
        env = {**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "HOME": str(home)}
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "agsekit", "config-gen", "--config", str(config), *extra],
            cwd=str(cwd),
            env=env,
            encoding="utf-8",
            timeout=30,
            dimensions=(50, 200),
        )

    def answer(self, question: str, keys: str) -> None:
        """Wait for the question (or the reason an answer was refused), then type keys.
        A reason shown already is not drawn again, so each wrong answer has its own."""
        self.child.expect_exact(question)
        self.child.send(keys)

    def type(self, question: str, text: str) -> None:
        self.answer(question, CLEAR + text + "\r")

    def finish(self) -> tuple[int, str]:
        self.child.expect(pexpect.EOF)
        self.child.close()
        assert self.child.exitstatus is not None
        return self.child.exitstatus, str(self.child.before)


def _paths(tmp_path: Path) -> tuple[Path, Path, Path]:
    home, project = tmp_path / "home", tmp_path / "work" / "app"
    home.mkdir()
    project.mkdir(parents=True)
    (project / "package.json").write_text("{}\n")
    (project / "pyproject.toml").write_text("[project]\n")
    return home, project, tmp_path / "conf" / "config.yaml"


def test_every_question_with_wrong_answers_first(tmp_path: Path) -> None:
    home, project, config = _paths(tmp_path)
    w = Wizard(config, project, home)
    w.answer("This host has ", "")
    w.type("Name of the VM:", "Bad_Name")
    w.type("not a valid VM name", "dev")
    w.type("vCPUs:", "0")
    w.type("a whole number of CPUs from 1 to 4096", str(os.cpu_count()))  # the host's all
    w.type("and must keep 1 for itself", "1")
    w.type("RAM (e.g. 4G, 2048M):", "lots")
    w.type("not a Multipass size", "512M")
    w.type("Disk (e.g. 20G):", "1M")
    w.type("disk below Multipass' minimum of 512M", "3G")
    w.answer("Add another VM?", "n")
    w.answer("Add a project folder to mount", "y")
    w.type("Project folder (absolute path):", "/")
    w.type("must not be / (the whole host", str(home))
    w.type("your home folder", str(project / "missing"))
    w.type("no such folder", str(project))
    w.type("Minutes between snapshots:", "0")
    w.type("more than 0 and at most 10080 minutes", "10")
    w.answer("Write a default .backupignore", DOWN + DOWN + " \r")  # node, python; + rust
    w.answer("Add another folder?", "n")
    w.answer("Add an agent?", "y")
    w.answer("Agent type:", DOWN + "\r")  # the second of the catalogue: codex
    w.type("Name (what you type after `agsekit run`):", "9lives")
    w.type("not a valid agent name", "codex")
    w.type("Environment variables", "OPENAI_API_KEY=sk-live-123")
    w.type("never a key", "OPENAI_API_KEY, EXTRA_TOKEN")
    w.answer("Add another agent?", "n")
    code, out = w.finish()
    assert code == 0, out
    assert f"created {config}" in out

    text = config.read_text()
    assert "sk-live" not in text
    assert "      OPENAI_API_KEY: ${OPENAI_API_KEY}\n      EXTRA_TOKEN: ${EXTRA_TOKEN}\n" in text
    assert "    cpu: 1 " in text
    assert "    ram: 512M " in text
    assert f"  - source: {project} " in text
    assert text.startswith("# Written by `agsekit config-gen` on ")
    assert config.stat().st_mode & 0o777 == 0o600
    check = run_cli("config-check", "--config", config, env={"HOME": str(home)})
    assert check.returncode == 0, check.stderr
    assert "  vm dev: 1 CPU, 512M RAM, 3G disk" in check.stdout
    assert f"  mount {project} -> dev:/home/ubuntu/app, snapshots in " in check.stdout
    assert "every 10 min" in check.stdout
    assert "  agent codex: codex" in check.stdout
    ignore = (project / ".backupignore").read_text()
    assert "node_modules/\n" in ignore
    assert "__pycache__/\n" in ignore
    assert "target/\n" in ignore  # rust, ticked by hand
    assert "vendor/" not in ignore  # go, left unticked


def test_an_existing_config_is_kept_without_overwrite_and_backed_up_with_it(
    tmp_path: Path,
) -> None:
    home, project, config = _paths(tmp_path)
    (project / ".backupignore").write_text("mine\n")
    config.parent.mkdir()
    config.write_text("vms: {}   # mine\n")
    refused = run_cli("config-gen", "--config", config)
    assert refused.returncode == 2
    assert "exists, and config-gen does not replace it" in refused.stderr
    assert "--overwrite" in refused.stderr

    w = Wizard(config, project, home, "--overwrite")
    w.type("Name of the VM:", "vm1")
    w.type("vCPUs:", "1")
    w.type("RAM (e.g. 4G, 2048M):", "512M")
    w.type("Disk (e.g. 20G):", "3G")
    w.answer("Add another VM?", "n")
    w.answer("Add a project folder to mount", "\r")  # the default: yes
    w.type("Project folder (absolute path):", str(project))
    w.type("Minutes between snapshots:", "5")
    w.answer(f"{project / '.backupignore'} exists; it stays as it is.", "")
    w.answer("Add another folder?", "\r")  # the default: no
    w.answer("Add an agent?", "n")
    code, out = w.finish()
    assert code == 0, out
    (bak,) = config.parent.glob("config.yaml.*.bak")
    assert bak.read_text() == "vms: {}   # mine\n"
    assert "agents: {}" in config.read_text()
    assert (project / ".backupignore").read_text() == "mine\n"
    assert run_cli("config-check", "--config", config, env={"HOME": str(home)}).returncode == 0


def test_without_a_terminal_it_refuses_at_once(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    result = run_cli("config-gen", "--config", config, timeout=30)
    assert result.returncode == 2
    assert "config-gen asks its questions on a terminal, and there is none here" in result.stderr
    assert "agsekit config-example >" in result.stderr
    assert not config.exists()
