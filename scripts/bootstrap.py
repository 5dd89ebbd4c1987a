#!/usr/bin/env python3
"""Create or refresh the repository's own virtual environment (.venv).

Used by ./agsekit (runtime dependencies) and ./scripts/test (plus the dev extras).
The environment is rebuilt only when pyproject.toml changes; a lock file keeps two
first runs started at once from racing each other.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".agsekit-stamp"


def wanted_stamp(dev: bool) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return f"{digest} {'dev' if dev else 'runtime'}"


def is_current(dev: bool) -> bool:
    if not (VENV / "bin" / "python").exists() or not STAMP.exists():
        return False
    have = STAMP.read_text().strip()
    return have in {wanted_stamp(dev), wanted_stamp(True)}


def install(dev: bool) -> None:
    if not (VENV / "bin" / "python").exists():
        try:
            venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        except Exception as exc:
            sys.exit(
                f"agsekit: could not create {VENV}: {exc}\n"
                "On Debian/Ubuntu install the venv module first: sudo apt install python3-venv"
            )
    target = ".[dev]" if dev else "."
    cmd = [
        str(VENV / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-e",
        target,
    ]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        sys.exit(f"agsekit: installing dependencies into {VENV} failed (see above)")
    STAMP.write_text(wanted_stamp(dev) + "\n")


def main() -> None:
    dev = "--dev" in sys.argv[1:]
    if is_current(dev):
        STAMP.touch()  # lets ./agsekit skip this script until pyproject.toml changes again
        return
    VENV.mkdir(exist_ok=True)
    with open(VENV / ".bootstrap.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_current(dev):
            if sys.stderr.isatty():
                sys.stderr.write("agsekit: setting up .venv (first run only)...\n")
            install(dev)
    os.environ.pop("VIRTUAL_ENV", None)


if __name__ == "__main__":
    main()
