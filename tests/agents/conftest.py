"""A configured project, a VM in the Multipass double, and stand-in agents inside it.

The double must model the guest (users, root, sudo, sshfs mounts), which it does when the
tests run as root; elsewhere these tests are skipped. Stand-ins are placed where
install-agents puts agents (a root-owned prefix under /opt/agsekit/agents/NAME, with the
package.json it reads the version from), and also where agents used to go (the VM user's
~/.local), so that the same tests show what an agsekit that runs agents as the VM's user
lets a hostile agent do. `agsekit install-agents` then finds them installed and creates
the agents' users.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from agsekit.agents.catalogue import kind_of
from tests.fakes.fake_multipass.guest import host_id, missing
from tests.vm.conftest import REAL, STATE_ENV, Multipass, agsekit, multipass, multipass_env

__all__ = ["Multipass", "agsekit", "multipass", "multipass_env"]

SECRET = "s3cr3t-Value-7f2a9c"  # noqa: S105 - a test value that must never leak
OTHER_SECRET = "0ther-K3y-41be77"  # noqa: S105 - the second agent's, never to leak either
VERSION = "2.0.1"

# The stand-in agent: what it does depends on its first argument.
STAND_IN = r"""#!/bin/bash
evidence="$HOME/evidence"
mkdir -p "$evidence"
pwd > "$evidence/pwd"
id -un > "$evidence/user"
id -Gn > "$evidence/groups"
printf '%s' "$AGENT_TOKEN" | sha256sum | cut -d' ' -f1 > "$evidence/token-sha"
printf '%s' "$PLAIN" > "$evidence/plain"
[ -t 0 ] && echo tty > "$evidence/stdin" || echo notty > "$evidence/stdin"
printf '%s\n' "$@" > "$evidence/args"
[ "$1" = --from-config ] && shift  # the config's default_args come first
case "$1" in
  exit) exit "$2" ;;
  wipe) find . -mindepth 1 -delete; echo "wiped" ;;
  rewrite) echo "rewritten by the agent" > README.md ;;
  held)
    # wait until told, then exit with the status given
    touch "$evidence/started-held"
    for _ in $(seq 1 600); do [ -e "$evidence/go-held" ] && break; sleep 0.05; done
    exit "$2" ;;
  steps)
    # delete one folder, wait until told, then delete another (losses in small steps)
    rm -rf -- "$2"
    touch "$evidence/started-steps"
    for _ in $(seq 1 600); do [ -e "$evidence/go-steps" ] && break; sleep 0.05; done
    rm -rf -- "$3" ;;
  wait)
    touch "$evidence/started-$2"
    for _ in $(seq 1 600); do [ -e "$evidence/go-$2" ] && break; sleep 0.05; done
    # patterns from a file, so the token is not on grep's own command line
    grep -l -a -F -f <(printf '%s\n' "$AGENT_TOKEN") /proc/[0-9]*/cmdline \
      > "$evidence/cmdline-hits-$2" 2>/dev/null
    exit 0 ;;
  trap)
    trap 'echo interrupted; exit 130' INT
    touch "$evidence/started-trap"
    for _ in $(seq 1 600); do sleep 0.05; done
    exit 0 ;;
  size)
    stty size > "$evidence/size-1"
    touch "$evidence/started-size"
    for _ in $(seq 1 600); do [ -e "$evidence/go-size" ] && break; sleep 0.05; done
    stty size > "$evidence/size-2" ;;
  steal-environ)
    # every process' environment this user can read, and what sudo would give
    for file in /proc/[0-9]*/environ; do
      tr '\0' '\n' < "$file" 2>/dev/null | grep '^AGENT_TOKEN=' >> "$evidence/stolen"
    done
    sudo -n cat /proc/[0-9]*/environ 2>/dev/null | tr '\0' '\n' \
      | grep '^AGENT_TOKEN=' >> "$evidence/stolen"
    true ;;
  replace-programs)
    # put a wrapper that keeps the token in place of every copy of the other agent
    target=$2
    for program in "$HOME/.local/bin/$target" /home/ubuntu/.local/bin/"$target" \
        /opt/agsekit/agents/"$target"/bin/"$target"; do
      if { printf '#!/bin/bash\nprintf %%s "$AGENT_TOKEN" > /tmp/stolen-token\n'
           printf 'exec /bin/bash %s.real "$@"\n' "$program"; } > "$program.new" 2>/dev/null \
         && cp "$program" "$program.real" 2>/dev/null && chmod +x "$program.new" \
         && mv "$program.new" "$program" 2>/dev/null; then
        echo "replaced $program" >> "$evidence/replaced"
      else
        echo "refused $program" >> "$evidence/replaced"
      fi
    done ;;
  sudo) sudo -n true 2>"$evidence/sudo-error"; echo $? > "$evidence/sudo-status" ;;
  fetch)
    # which proxy variables it got (names only), and a page fetched the way most tools do
    env | sed -n 's/^\([A-Za-z_]*[Pp][Rr][Oo][Xx][Yy][A-Za-z_]*\)=.*/\1/p' | sort \
      > "$evidence/proxy-names"
    python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode())' "$2" \
      > "$evidence/fetched" 2> "$evidence/fetch-error"
    echo $? > "$evidence/fetch-status" ;;
esac
exit 0
"""


@dataclass
class Setup:
    env: dict[str, str]
    mp: Multipass
    project: Path
    backups: Path
    config: Path
    vm: str

    @property
    def state(self) -> Path:
        return Path(self.env[STATE_ENV])

    @property
    def guest_home(self) -> Path:
        """The VM user's home (/home/ubuntu)."""
        return self.state / "homes" / self.vm

    def guest_path(self, path: str) -> Path:
        """Where a path of the guest lives on the host (outside /home/ubuntu)."""
        return self.state / "guests" / self.vm / path.lstrip("/")

    def evidence_of(self, agent: str) -> Path:
        """The stand-in's evidence folder: in its own user's home, or the VM user's."""
        own = self.guest_path(f"/home/agsekit-{agent}")
        return (own if own.exists() else self.guest_home) / "evidence"

    @property
    def evidence(self) -> Path:
        return self.evidence_of("claude")

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return agsekit(self.env, *args, cwd=cwd or self.project)

    def sh(self, script: str) -> subprocess.CompletedProcess[str]:
        """A command in the VM as its default user."""
        return self.mp.run("exec", "-n", self.vm, "--", "bash", "-c", script)


def agent_yaml(name: str, agent_type: str, token_variable: str, extra: str = "") -> str:
    return (
        f"  {name}:\n    type: {agent_type}\n    default_args: [--from-config]\n{extra}"
        f"    env:\n      AGENT_TOKEN: ${{{token_variable}}}\n      PLAIN: plain-value\n"
    )


def config_text(
    project: Path, backups: Path, vm: str, agents: str = "", *, interval: float = 5
) -> str:
    return (
        f"vms:\n  {vm}:\n    cpu: 1\n    ram: 512M\n    disk: 3G\n"
        f"mounts:\n  - source: {project}\n    target: /home/ubuntu/project\n"
        f"    backup: {backups}\n    interval: {interval:g}\n"
        "agents:\n" + (agents or agent_yaml("claude", "claude", "TEST_AGENT_TOKEN"))
    )


def guest_file(path: Path, text: str, *, uid: int, mode: int = 0o644) -> None:
    """A file in the guest owned by guest uid, its missing folders too (mode 755)."""
    missing_dirs = []
    folder = path.parent
    while not folder.exists():
        missing_dirs.append(folder)
        folder = folder.parent
    for made in reversed(missing_dirs):
        made.mkdir()
        os.chown(made, host_id(uid), host_id(uid))
        made.chmod(0o755)
    path.write_text(text)
    os.chown(path, host_id(uid), host_id(uid))
    path.chmod(mode)


def install_stand_in(setup: Setup, name: str, agent_type: str) -> None:
    """The stand-in as the agent's installer would leave it: npm's package.json, or the
    dist-info of pipx's venv; both in the agent's own prefix and the old ~/.local one."""
    kind = kind_of(agent_type)
    prefix = setup.guest_path(f"/opt/agsekit/agents/{name}")
    old = setup.guest_home / ".local"
    for root, pipx_home, uid in ((prefix, prefix / "pipx", 0), (old, old / "share" / "pipx", 1000)):
        guest_file(root / "bin" / kind.binary, STAND_IN, uid=uid, mode=0o755)
        if kind.installer == "npm":
            manifest = f'{{"name": "{kind.package}", "version": "{VERSION}"}}'
            package = root / "lib" / "node_modules" / kind.package / "package.json"
            guest_file(package, manifest, uid=uid)
        else:
            info = f"{kind.package.replace('-', '_')}-{VERSION}.dist-info"
            site = pipx_home / "venvs" / kind.package / "lib" / "python3.12" / "site-packages"
            metadata = f"Metadata-Version: 2.1\nName: {kind.package}\nVersion: {VERSION}\n"
            guest_file(site / info / "METADATA", metadata, uid=uid)


def installed(setup: Setup) -> None:
    result = setup.run("install-agents")
    assert result.returncode == 0, result.stdout + result.stderr


def make_setup(tmp_path: Path, multipass_env: dict[str, str], multipass: Multipass) -> Setup:
    if REAL:
        pytest.skip("these tests look into the double's guest folders")
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is needed for the Multipass double")
    if missing() is not None:
        pytest.skip(f"the double cannot model the guest's users here: {missing()}")
    project = tmp_path / "work" / "project"
    for rel, text in (("README.md", "hello\n"), ("src/main.py", "print('hi')\n")):
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text)
    (project / "src" / "deep").mkdir()
    (project / "src" / "deep" / "data.txt").write_text("data\n")
    backups = tmp_path / "backups"
    vm = "agentvm"
    config = tmp_path / "config.yaml"
    config.write_text(config_text(project, backups, vm))
    env = {
        **multipass_env,
        "TEST_AGENT_TOKEN": SECRET,
        "TEST_OTHER_TOKEN": OTHER_SECRET,
        "CONFIG_PATH": str(config),
    }
    for step in (("create-vms", "--ignore-capacity"), ("mount", "--all")):
        result = agsekit(env, *step)
        assert result.returncode == 0, result.stderr
    return Setup(env, multipass, project, backups, config, vm)


@pytest.fixture
def bare(tmp_path: Path, multipass_env: dict[str, str], multipass: Multipass) -> Setup:
    """The VM and the mount, nothing installed."""
    return make_setup(tmp_path, multipass_env, multipass)


@pytest.fixture
def setup(bare: Setup) -> Setup:
    """One agent, claude, installed (a stand-in) with a user of its own."""
    install_stand_in(bare, "claude", "claude")
    installed(bare)
    return bare


@pytest.fixture
def two(bare: Setup) -> Setup:
    """claude and codex, each with a key of its own, in one VM."""
    agents = agent_yaml("claude", "claude", "TEST_AGENT_TOKEN") + agent_yaml(
        "codex", "codex", "TEST_OTHER_TOKEN"
    )
    bare.config.write_text(config_text(bare.project, bare.backups, bare.vm, agents))
    install_stand_in(bare, "claude", "claude")
    install_stand_in(bare, "codex", "codex")
    installed(bare)
    return bare


def wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.05)


def has(path: Path, needle: str) -> bool:
    try:
        return needle.encode() in path.read_bytes()
    except OSError:
        return False


def files_containing(root: Path, needle: str) -> list[Path]:
    hits = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink() and has(path, needle):
                hits.append(path)
    return hits


def registry_reachable() -> bool:
    if shutil.which("npm") is None or shutil.which("node") is None:
        return False
    try:
        probe = subprocess.run(
            ["npm", "view", "@openai/codex", "version"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


needs_registry = pytest.mark.skipif(
    not registry_reachable(), reason="node, npm or the npm registry are not available"
)
