"""Shell scripts run in the VM (through `bash -c SCRIPT NAME ARGS...`, never with values
pasted into the script text) to check, and install, agents and their runtimes."""

from __future__ import annotations

# What is installed, in one round trip. Arguments: for each agent INSTALLER PACKAGE DIR
# USER (DIR: its own root-owned prefix), then `--`, then folders agent users must be able
# to pass through (those above the mount targets). Prints `sudo yes|no`, `node VERSION`,
# one `agent INDEX VERSION USER-EXISTS OLD-VERSION` line per agent (- for missing, OLD:
# installed the old way, as the VM's user) and `closed FOLDER` for each folder others
# cannot pass through. Node.js is looked up on sudo's secure_path, where agents find it;
# versions are read with python3 (in every Ubuntu image), so they are known without Node.
CHECK = r"""
secure=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin
if sudo -n true 2>/dev/null; then echo "sudo yes"; else echo "sudo no"; fi
node=$(PATH=$secure command -v node || true)
if [ -n "$node" ]; then echo "node $("$node" --version | sed 's/^v//')"; else echo "node -"; fi
npm_version() {  # PREFIX PACKAGE
  local manifest="$1/lib/node_modules/$2/package.json"
  if [ -f "$manifest" ]; then
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' \
      "$manifest" 2>/dev/null || echo -
  else
    echo -
  fi
}
pipx_version() {  # PIPX_HOME PACKAGE
  local info name version=-
  for info in "$1"/venvs/"$2"/lib/python3*/site-packages/*.dist-info; do
    [ -f "$info/METADATA" ] || continue
    name=$(sed -n 's/^Name: //p' "$info/METADATA" | head -n1)
    if [ "$(echo "$name" | tr 'A-Z_' 'a-z-')" = "$2" ]; then
      version=$(sed -n 's/^Version: //p' "$info/METADATA" | head -n1)
    fi
  done
  echo "$version"
}
index=0
while [ $# -ge 4 ] && [ "$1" != -- ]; do
  installer=$1 pkg=$2 dir=$3 user=$4
  shift 4
  if [ "$installer" = npm ]; then
    own=$(npm_version "$dir" "$pkg") old=$(npm_version "$HOME/.local" "$pkg")
  else
    own=$(pipx_version "$dir/pipx" "$pkg") old=$(pipx_version "$HOME/.local/share/pipx" "$pkg")
  fi
  if [ -n "$user" ] && id -u -- "$user" >/dev/null 2>&1; then has=yes; else has=no; fi
  echo "agent $index $own $has $old"
  index=$((index + 1))
done
[ "${1:-}" = -- ] && shift
for folder in "$@"; do
  if [ -d "$folder" ] && [ $((8#$(stat -c %a "$folder") & 1)) -eq 0 ]; then
    echo "closed $folder"
  fi
done
""".strip()

# Users of their own for agents, and a way to their folders. Arguments: users, then `--`,
# then folders to open for passing through (o+x: others may pass, not list). useradd with
# no extra group: no sudo, no admin; the home is for the agent alone.
PREPARE = r"""
set -euo pipefail
while [ "$1" != -- ]; do
  user=$1
  shift
  if ! id -u -- "$user" >/dev/null 2>&1; then
    sudo -n useradd --create-home --user-group --shell /bin/bash \
      --comment "agsekit agent" -- "$user"
  fi
  home=$(getent passwd "$user" | cut -d: -f6)
  sudo -n chmod 700 -- "$home"
done
shift
for folder in "$@"; do sudo -n chmod o+x -- "$folder"; done
sudo -n install -d -o root -g root -m 755 /opt/agsekit /opt/agsekit/agents
""".strip()

# $1: Node.js version, $2 (optional): where releases are (default nodejs.org; a mirror in
# tests). Downloads the official build, checks it against the release's SHASUMS256.txt,
# unpacks it into /usr/local (root's). Nothing is piped into a shell.
INSTALL_NODE = r"""
set -euo pipefail
version=$1
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) echo "unsupported processor $(uname -m) for Node.js" >&2; exit 3 ;;
esac
file="node-v$version-linux-$arch.tar.xz"
base="${2:-https://nodejs.org/dist}/v$version"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
curl -fsSL --retry 3 -o "$file" "$base/$file"
curl -fsSL --retry 3 -o SHASUMS256.txt "$base/SHASUMS256.txt"
if ! grep " $file\$" SHASUMS256.txt | sha256sum -c --status -; then
  echo "checksum mismatch for $file" >&2
  exit 4
fi
sudo tar -xJf "$file" -C /usr/local --strip-components=1 --no-same-owner
node --version
""".strip()

# $1: the agent's own prefix, $2: package spec (name@version or name@latest). Installed by
# root and left root's: the agent users can run it, not change it.
INSTALL_NPM = r"""
set -euo pipefail
dir=$1
sudo -n install -d -o root -g root -m 755 "$dir"
sudo -n -H npm install --global --prefix "$dir" --no-fund --no-audit --loglevel=error "$2"
sudo -n chown -R root:root "$dir"
sudo -n chmod -R go-w "$dir"
""".strip()

# $1: the agent's own prefix, $2: package spec (name==version or name). pipx (from the
# distribution when missing) run by root with its home and bin folder in the prefix.
INSTALL_PIPX = r"""
set -euo pipefail
dir=$1
if ! command -v pipx >/dev/null 2>&1; then
  sudo apt-get update -qq
  sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pipx
fi
sudo -n install -d -o root -g root -m 755 "$dir"
sudo -n -H env PIPX_HOME="$dir/pipx" PIPX_BIN_DIR="$dir/bin" PIPX_MAN_DIR="$dir/man" \
  pipx install --force "$2"
sudo -n chmod -R go-w "$dir"
""".strip()

# proxychains4 from the distribution, when it is missing.
INSTALL_PROXYCHAINS = r"""
set -euo pipefail
if ! command -v proxychains4 >/dev/null 2>&1; then
  sudo apt-get update -qq
  sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq proxychains4
fi
proxychains4 true >/dev/null 2>&1 || command -v proxychains4
""".strip()

# The old way, for `isolation: none` and VMs without passwordless sudo: as the VM's user.
# $1: package spec. npm into ~/.local (no sudo).
INSTALL_NPM_SHARED = r"""
set -euo pipefail
mkdir -p "$HOME/.local"
npm install --global --prefix "$HOME/.local" --no-fund --no-audit --loglevel=error "$1"
""".strip()

# $1: package spec. pipx as the VM's user (pipx itself from the distribution when missing).
INSTALL_PIPX_SHARED = r"""
set -euo pipefail
if ! command -v pipx >/dev/null 2>&1; then
  sudo apt-get update -qq
  sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pipx
fi
pipx install --force "$1"
""".strip()

# Put before a script that gets an environment on its standard input (as the launcher
# does: base64 lines, then a line with a single dot): exports it, and makes every sudo in
# the script keep it, so that apt, npm, pipx and curl all see the proxy.
READ_ENVIRONMENT = r"""
__encoded= __names=
while IFS= read -r __line && [ "$__line" != . ]; do __encoded+=$__line; done
while IFS= read -r -d '' __pair; do
  export "$__pair"
  __names+=${__names:+,}${__pair%%=*}
done < <(printf '%s' "$__encoded" | base64 -d)
unset __encoded __line __pair
sudo() { command sudo ${__names:+--preserve-env="$__names"} "$@"; }
""".strip()
