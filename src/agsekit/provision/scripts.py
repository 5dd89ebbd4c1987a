"""The bundles' shell scripts, run in the VM as `bash -c SCRIPT NAME ARGS...` (values only
ever as arguments, never pasted into the text).

CHECK looks at every bundle of a VM in one round trip. Each install script takes $1: the
version asked for ("" for the bundle's default) and $2: where its downloads are (empty for
apt bundles); it downloads into a temporary folder, checks what it downloaded before
anything of it runs or is unpacked, and puts it in place. Nothing is piped into a shell.
"""

from __future__ import annotations

from agsekit.agents.scripts import INSTALL_NODE

# Arguments: NAME VERSION pairs (VERSION "-": none asked for). Prints `bundle INDEX
# VERSION` per pair, VERSION "-" when the bundle is missing (or, for docker, the VM's user
# is not in the docker group). Programs are looked up on sudo's secure_path, where the
# agents' users find them too.
CHECK = r"""
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin
first_word() { "$@" 2>/dev/null | head -n1 | tr -d '\r' || true; }
check_python() {
  local python=python3
  [ "$1" = - ] || python="python$(echo "$1" | cut -d. -f1,2)"
  command -v "$python" >/dev/null || return 0
  "$python" -c 'import ensurepip, sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null
}
check_nodejs() { command -v node >/dev/null && node --version | sed 's/^v//'; }
check_golang() {
  [ -x /usr/local/go/bin/go ] || return 0
  first_word /usr/local/go/bin/go version | sed -n 's/^go version go\([^ ]*\).*/\1/p'
}
check_rust() {
  [ -x /usr/local/bin/rustc ] || return 0
  first_word /usr/local/bin/rustc --version | sed -n 's/^rustc \([^ ]*\).*/\1/p'
}
check_docker() {
  command -v docker >/dev/null || return 0
  id -nG "$(id -un)" | tr ' ' '\n' | grep -qx docker || return 0
  first_word docker --version | sed -n 's/^Docker version \([^ ,]*\).*/\1/p'
}
check_uv() { [ -x /usr/local/bin/uv ] && first_word /usr/local/bin/uv --version | cut -d' ' -f2; }
check_pyenv() {
  [ -x "$HOME/.pyenv/bin/pyenv" ] && first_word "$HOME/.pyenv/bin/pyenv" --version | cut -d' ' -f2
}
check_nvm() {
  [ -f "$HOME/.nvm/package.json" ] || return 0
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' \
    "$HOME/.nvm/package.json" 2>/dev/null
}
index=0
while [ $# -ge 2 ]; do
  found=$("check_$1" "$2" 2>/dev/null || true)
  found=${found%%[[:space:]]*}
  echo "bundle $index ${found:--}"
  index=$((index + 1))
  shift 2
done
""".strip()

# What the archive bundles share: a temporary folder, downloads, and the checksum test.
_COMMON = r"""
set -euo pipefail
version=$1 base=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fetch() { curl -fsSL --retry 3 -o "$1" "$2"; }
verify() {  # FILE SHA256
  if ! printf '%s  %s\n' "$2" "$1" | sha256sum -c --status -; then
    echo "checksum mismatch for $1: it is not the published file, so it is not used" >&2
    exit 4
  fi
}
machine=$(uname -m)
case "$machine" in
  x86_64|aarch64) ;;
  arm64) machine=aarch64 ;;
  *) echo "unsupported processor $machine" >&2; exit 3 ;;
esac
""".strip()

# The newest release of a line ("22", "22.11") from the release index, then INSTALL_NODE.
_NODE_RESOLVE = r"""
set -euo pipefail
version=$1 base=$2
case "$version" in
  *.*.*) ;;
  *)
    version=$(curl -fsSL --retry 3 "$base/index.json" | python3 -c '
import json, sys
want = "v" + sys.argv[1] + "."
found = [r["version"] for r in json.load(sys.stdin) if r["version"].startswith(want)]
print(found[0][1:] if found else "")' "$version")
    [ -n "$version" ] || { echo "no Node.js release $1 in $base/index.json" >&2; exit 5; } ;;
esac
set -- "$version" "$base"
""".strip()

NODEJS = _NODE_RESOLVE + "\n" + INSTALL_NODE

# go.dev/dl/?mode=json lists each release's archives with their sha256.
GOLANG = (
    _COMMON
    + "\n"
    + r"""
arch=$([ "$machine" = x86_64 ] && echo amd64 || echo arm64)
fetch releases.json "$base/?mode=json&include=all"
read -r file sum < <(python3 -c '
import json, sys
want, arch = sys.argv[1], sys.argv[2]
for release in json.load(open("releases.json")):
    name = release["version"].removeprefix("go")
    if not release.get("stable") or (want and name != want and not name.startswith(want + ".")):
        continue
    for item in release["files"]:
        if (item["os"], item["arch"], item["kind"]) == ("linux", arch, "archive"):
            print(item["filename"], item["sha256"])
            sys.exit()' "$version" "$arch") || true
[ -n "${file:-}" ] || { echo "no Go release ${version:-stable} for linux/$arch" >&2; exit 5; }
case "$file" in */*|.*) echo "odd file name $file in the release list" >&2; exit 5 ;; esac
fetch "$file" "$base/$file"
verify "$file" "$sum"
sudo rm -rf /usr/local/go
sudo tar -xzf "$file" -C /usr/local --no-same-owner
for tool in /usr/local/go/bin/*; do sudo ln -sf "$tool" /usr/local/bin/; done
/usr/local/go/bin/go version
""".strip()
)

UV = (
    _COMMON
    + "\n"
    + r"""
file="uv-$machine-unknown-linux-gnu.tar.gz"
if [ -n "$version" ]; then url="$base/download/$version"; else url="$base/latest/download"; fi
fetch "$file" "$url/$file"
fetch "$file.sha256" "$url/$file.sha256"
verify "$file" "$(cut -d' ' -f1 "$file.sha256")"
tar -xzf "$file" --no-same-owner
sudo install -m 755 "uv-$machine-unknown-linux-gnu/uv" "uv-$machine-unknown-linux-gnu/uvx" \
  /usr/local/bin/
/usr/local/bin/uv --version
""".strip()
)

# rustup for everyone: root's RUSTUP_HOME and CARGO_HOME under /opt/agsekit/rust, and
# small wrappers in /usr/local/bin that point rustup's proxies at them (each user keeps
# their own ~/.cargo for the registry and builds).
RUST = (
    _COMMON
    + "\n"
    + r"""
home=/opt/agsekit/rust
toolchain=${version:-stable}
as_root() { sudo env RUSTUP_HOME="$home/rustup" CARGO_HOME="$home/cargo" "$@"; }
if [ -x "$home/cargo/bin/rustup" ]; then
  as_root "$home/cargo/bin/rustup" default "$toolchain"
else
  url="$base/rustup/dist/$machine-unknown-linux-gnu/rustup-init"
  fetch rustup-init "$url"
  fetch rustup-init.sha256 "$url.sha256"
  verify rustup-init "$(cut -d' ' -f1 rustup-init.sha256)"
  chmod 755 rustup-init
  sudo install -d -m 755 /opt/agsekit "$home"
  as_root ./rustup-init -y --no-modify-path --profile minimal --default-toolchain "$toolchain"
fi
for tool in "$home"/cargo/bin/*; do
  printf '#!/bin/sh\nRUSTUP_HOME=%s/rustup exec %s "$@"\n' "$home" "$tool" > wrapper
  sudo install -m 755 wrapper "/usr/local/bin/$(basename "$tool")"
done
/usr/local/bin/rustc --version
""".strip()
)

_APT = r"""
set -euo pipefail
apt_install() {
  sudo apt-get update -qq
  sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}
""".strip()

# Without a version: Ubuntu's python3 with venv and pip. With one: that CPython from uv
# (python-build-standalone, its sha256 checked by uv) under /opt/agsekit/python, as
# /usr/local/bin/python3.X.
PYTHON = (
    _APT
    + "\n"
    + r"""
version=$1
if [ -z "$version" ]; then
  apt_install python3 python3-venv python3-pip
  python3 --version
  exit 0
fi
minor=$(echo "$version" | cut -d. -f1,2)
managed() { sudo env UV_PYTHON_INSTALL_DIR=/opt/agsekit/python /usr/local/bin/uv python "$@"; }
managed install "$version"
found=$(managed find --python-preference only-managed "$version")
sudo ln -sf "$found" "/usr/local/bin/python$minor"
"python$minor" --version
""".strip()
)

DOCKER = (
    _APT
    + "\n"
    + r"""
command -v docker >/dev/null || apt_install docker.io
getent group docker >/dev/null || sudo groupadd --system docker
sudo usermod -aG docker "$(id -un)"
docker --version
""".strip()
)

# A release tag cloned into the VM user's home, and a marked block in ~/.bashrc.
_GIT_TOOL = r"""
set -euo pipefail
tag="v$1" base=$2 dir="$HOME/.$TOOL"
if [ -d "$dir/.git" ]; then
  git -C "$dir" fetch -q --depth 1 origin tag "$tag"
  git -C "$dir" -c advice.detachedHead=false checkout -q "$tag"
else
  git -c advice.detachedHead=false clone -q --depth 1 --branch "$tag" "$base" "$dir"
fi
if ! grep -qx "# agsekit: $TOOL" "$HOME/.bashrc" 2>/dev/null; then
  printf '\n# agsekit: %s\n%s\n' "$TOOL" "$SETUP" >> "$HOME/.bashrc"
fi
""".strip()

PYENV = (
    "TOOL=pyenv\n"
    + 'SETUP=\'export PYENV_ROOT="$HOME/.pyenv"; export PATH="$PYENV_ROOT/bin:$PATH"; '
    + 'eval "$(pyenv init - bash)"\'\n'
    + _GIT_TOOL
    + '\n"$dir/bin/pyenv" --version'
)

NVM = (
    "TOOL=nvm\n"
    + 'SETUP=\'export NVM_DIR="$HOME/.nvm"; [ -s "$NVM_DIR/nvm.sh" ] && . "$NVM_DIR/nvm.sh"\'\n'
    + _GIT_TOOL
    + '\ntest -s "$dir/nvm.sh"'
)

INSTALL = {
    "python": PYTHON,
    "nodejs": NODEJS,
    "golang": GOLANG,
    "rust": RUST,
    "docker": DOCKER,
    "uv": UV,
    "pyenv": PYENV,
    "nvm": NVM,
}
