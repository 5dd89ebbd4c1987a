"""`agsekit run` in a folder outside every mount, on a real pseudo-terminal: it offers to
add the folder (default no) through addmount's code."""

from __future__ import annotations

import sys
from pathlib import Path

import pexpect

CONFIG = "vms:\n  dev:\n    cpu: 1\nmounts:  # projects\n  - source: {app}\n"


def _run(config: Path, cwd: Path, env: dict[str, str], answer: str) -> tuple[int, str]:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "agsekit", "run", "--config", str(config), "claude"],
        cwd=str(cwd),
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 200),
    )
    child.expect(r"Add .* as a mount\? \[y/N\]: ")
    child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus is not None
    return child.exitstatus, str(child.before)


def test_run_offers_to_add_the_folder(tmp_path: Path, multipass_env: dict[str, str]) -> None:
    app, lib = tmp_path / "app", tmp_path / "lib"
    app.mkdir()
    lib.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(app=app))
    original = config.read_bytes()

    code, out = _run(config, lib, multipass_env, "")  # Enter: the default, no
    assert code == 2
    assert "is not inside any mounted folder" in out
    assert config.read_bytes() == original

    code, out = _run(config, lib, multipass_env, "y")
    assert f"wrote {config}" in out
    assert config.read_bytes() == original + f"  - source: {lib}\n".encode()
    assert code == 1  # then run goes on, to the VM, which was never created
    assert "the VM dev does not exist yet" in out
