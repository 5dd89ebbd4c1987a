"""Shell scripts run in the VM (through `bash -c SCRIPT NAME ARGS...`, never with values
pasted into the script text) to check, and install, agents and their runtimes."""

from __future__ import annotations

# Prints one line per item: `node VERSION`, `npm PACKAGE VERSION`, `pipx PACKAGE VERSION`,
# with `-` for what is missing. Arguments: `npm:PACKAGE` or `pipx:PACKAGE` items.
CHECK = r"""
prefix="$HOME/.local"
if command -v node >/dev/null 2>&1; then
  echo "node $(node --version | sed 's/^v//')"
else
  echo "node -"
fi
for item in "$@"; do
  kind=${item%%:*}; pkg=${item#*:}
  version=-
  if [ "$kind" = npm ]; then
    manifest="$prefix/lib/node_modules/$pkg/package.json"
    if [ -f "$manifest" ] && command -v node >/dev/null 2>&1; then
      version=$(node -p "require(process.argv[1]).version" "$manifest" 2>/dev/null || echo -)
    fi
  else
    for info in "$HOME"/.local/share/pipx/venvs/"$pkg"/lib/python3*/site-packages/*.dist-info; do
      [ -f "$info/METADATA" ] || continue
      name=$(sed -n 's/^Name: //p' "$info/METADATA" | head -n1)
      if [ "$(echo "$name" | tr 'A-Z_' 'a-z-')" = "$pkg" ]; then
        version=$(sed -n 's/^Version: //p' "$info/METADATA" | head -n1)
      fi
    done
  fi
  echo "$kind $pkg $version"
done
""".strip()

# $1: Node.js version. Downloads the official build, checks it against the release's
# SHASUMS256.txt, unpacks it into /usr/local. Nothing is piped into a shell.
INSTALL_NODE = r"""
set -euo pipefail
version=$1
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) echo "unsupported processor $(uname -m) for Node.js" >&2; exit 3 ;;
esac
file="node-v$version-linux-$arch.tar.xz"
base="https://nodejs.org/dist/v$version"
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

# $1: package spec (name@version or name@latest). Installs into ~/.local (no sudo).
INSTALL_NPM = r"""
set -euo pipefail
mkdir -p "$HOME/.local"
npm install --global --prefix "$HOME/.local" --no-fund --no-audit --loglevel=error "$1"
""".strip()

# $1: package spec (name==version or name). pipx from the distribution when missing.
INSTALL_PIPX = r"""
set -euo pipefail
if ! command -v pipx >/dev/null 2>&1; then
  sudo apt-get update -qq
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pipx
fi
pipx install --force "$1"
""".strip()
