"""How an agent is started in the VM: one `multipass exec`, its environment handed over on
the launcher's standard input, never a file and never a command line.

The launcher (a fixed script; values reach it only as "$@" arguments that are not secret)
decides how the agent runs: as its own user (`sudo -u agsekit-NAME`, a program under
/opt/agsekit that only root can change, found by its absolute path), or as the VM's user
(`isolation: none`, or an agent installed the old way). Before it reads the environment it
turns echo off when stdin is a terminal and prints a one-time marker, on which agsekit
writes the values: base64 lines (no byte a terminal would act on, no line near the 4096
bytes of a terminal's line buffer), then a line with a single dot. It restores the terminal,
exports the values and execs the agent, so `ps` shows only the agent's own arguments.
"""

from __future__ import annotations

# $1 nonce, $2 agent user ("": the VM's user), $3 program (absolute), $4 the program's
# name in ~/.local/bin (an old-style install), $5...: the agent's arguments
LAUNCHER = r"""
nonce=$1 user=$2 program=$3 name=$4
shift 4
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin
export PATH
if [ -n "$user" ] && [ -x "$program" ] && id -u -- "$user" >/dev/null 2>&1; then
  if ! sudo -n -u "$user" -- test -x "$PWD" 2>/dev/null; then
    echo "agsekit: the agent's user $user cannot reach $PWD in this VM;" \
      "run: agsekit install-agents" >&2
    exit 126
  fi
elif [ -x "$HOME/.local/bin/$name" ]; then
  if [ -n "$user" ]; then
    echo "agsekit: warning: $name was installed the old way and runs as $(id -un)," \
      "which can read every agent's keys in this VM; run: agsekit install-agents" >&2
  fi
  user= program=$HOME/.local/bin/$name
else
  echo "agsekit: $name is not installed in this VM; run: agsekit install-agents" >&2
  exit 127
fi
if [ -t 0 ]; then
  saved=$(stty -g)
  stty -echo
  printf '%s\n' "agsekit-ready-$nonce"
fi
encoded=
while IFS= read -r line && [ "$line" != . ]; do encoded+=$line; done
if [ -t 0 ]; then stty "$saved"; fi
names=COLORTERM
while IFS= read -r -d '' pair; do
  export "$pair"
  case ${pair%%=*} in AGSEKIT_PROXYCHAINS_*) ;; *) names+=,${pair%%=*} ;; esac
done < <(printf '%s' "$encoded" | base64 -d)
unset encoded line pair saved
as_agent=()
if [ -n "$user" ]; then as_agent=(sudo -n -H -u "$user" --preserve-env="$names" --); fi
if [ -z "${AGSEKIT_PROXYCHAINS_CONF-}" ]; then
  exec "${as_agent[@]}" "$program" "$@"
fi
conf=$AGSEKIT_PROXYCHAINS_CONF host=$AGSEKIT_PROXYCHAINS_HOST
unset AGSEKIT_PROXYCHAINS_CONF AGSEKIT_PROXYCHAINS_HOST
if ! command -v proxychains4 >/dev/null; then
  echo "agsekit: proxychains4 is not installed in this VM" >&2
  exit 127
fi
address=$(getent ahosts "$host" | awk 'NR == 1 { print $1 }')
if [ -z "$address" ]; then
  echo "agsekit: the proxy's host $host does not resolve in this VM" >&2
  exit 69
fi
# proxychains4 reads its settings in every process it starts, so they are a file: in the
# agent's own home, readable by it alone, removed when the session ends
file=$("${as_agent[@]}" bash -c 'umask 077; mkdir -p "$HOME/.cache/agsekit" &&
  printf %s "$HOME/.cache/agsekit/proxychains.conf"')
printf '%s' "${conf//@PROXY_ADDRESS@/$address}" |
  "${as_agent[@]}" bash -c 'umask 077; cat > "$1"' agsekit-proxychains "$file"
unset conf
trap : INT
"${as_agent[@]}" proxychains4 -q -f "$file" "$program" "$@"
status=$?
"${as_agent[@]}" rm -f -- "$file"
exit "$status"
""".strip()


def marker(nonce: str) -> str:
    return f"agsekit-ready-{nonce}"


def launch_command(nonce: str, user: str, program: str, name: str, args: list[str]) -> list[str]:
    return ["bash", "-c", LAUNCHER, "agsekit-launch", nonce, user, program, name, *args]
