"""How an agent is started in the VM without its secrets ever being on a command line.

Step 1 (no terminal): `bash -c 'umask 077; cat > FILE'` with the NUL-separated NAME=VALUE
records on stdin writes them to a file in /dev/shm (RAM, never the VM's disk).
Step 2 (the terminal attached): the launcher script reads that file, deletes it, exports
the values and execs the agent, so `ps` in the VM shows only the agent's own arguments.
"""

from __future__ import annotations

# $1: env file (may be empty), $2...: the agent's command line
LAUNCHER = r"""
set -e
env_file=$1
shift
if [ -n "$env_file" ] && [ -f "$env_file" ]; then
  while IFS= read -r -d '' pair; do export "$pair"; done < "$env_file"
  rm -f -- "$env_file"
fi
export PATH="$HOME/.local/bin:$PATH"
if ! command -v "$1" >/dev/null 2>&1; then
  echo "agsekit: $1 is not installed in this VM; run: agsekit install-agents" >&2
  exit 127
fi
exec "$@"
""".strip()

WRITE_ENV = 'umask 077 && cat > "$1"'


def env_file(session_id: str) -> str:
    # a path in the guest's RAM; the guest creates it with umask 077
    return f"/dev/shm/agsekit-{session_id}.env"  # noqa: S108


def write_env_command(path: str) -> list[str]:
    return ["bash", "-c", WRITE_ENV, "agsekit-env", path]


def launch_command(path: str, binary: str, args: list[str]) -> list[str]:
    return ["bash", "-c", LAUNCHER, "agsekit-launch", path, binary, *args]
