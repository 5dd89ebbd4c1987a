"""provision against the Multipass double: archive bundles come from a loopback mirror of
fake archives (AGSEKIT_BUNDLE_MIRROR), checked against their published sha256."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.agents.conftest import Setup, config_text, install_stand_in
from tests.fakes.bundle_mirror import (
    Mirror,
    bundle_mirror,
    serve_go,
    serve_node,
    serve_rustup_init,
    serve_uv,
)
from tests.vm.conftest import FAKES

GO = "1.23.4"
UV = "0.5.11"


def with_install(setup: Setup, install: str, mirror: Mirror) -> None:
    text = config_text(setup.project, setup.backups, setup.vm)
    text = text.replace("    disk: 3G\n", f"    disk: 3G\n    install: {install}\n")
    setup.config.write_text(text)
    setup.env["AGSEKIT_BUNDLE_MIRROR"] = mirror.base


def counting_execs(setup: Setup, tmp: Path) -> Path:
    """Put a `multipass` first on PATH that logs each verb, then runs the double."""
    log = tmp / "multipass-calls"
    wrapper = tmp / "counting" / "multipass"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> {log}\nexec {FAKES / "multipass"} "$@"\n')
    wrapper.chmod(0o755)
    setup.env["PATH"] = f"{wrapper.parent}{os.pathsep}{setup.env['PATH']}"
    return log


def records(setup: Setup) -> dict[str, dict[str, dict[str, str]]]:
    path = Path(setup.env["HOME"]) / ".local" / "state" / "agsekit" / "bundles.json"
    data: dict[str, dict[str, dict[str, str]]] = json.loads(path.read_text())
    return data


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_missing_bundle_is_installed_then_only_checked(bare: Setup, tmp_path: Path) -> None:
    with bundle_mirror() as mirror:
        serve_go(mirror, GO)
        with_install(bare, "[golang:1.23]", mirror)
        assert bare.sh("command -v go || echo missing").stdout.strip() == "missing"
        out = ok(bare.run("provision"))
        assert f"golang:1.23: {GO} installed" in out
        assert bare.sh("go version").stdout.strip() == f"go version go{GO} linux/{_arch()}"
        assert bare.sh("stat -c %U /usr/local/go/bin/go").stdout.strip() == "root"
        assert records(bare)[bare.vm]["golang"]["version"] == GO

        log = counting_execs(bare, tmp_path)
        downloads = len(mirror.requests)
        again = ok(bare.run("provision"))
        assert f"golang:1.23: {GO} already installed" in again
        assert "installing" not in again
        assert log.read_text().split().count("exec") == 1  # one round trip
        assert len(mirror.requests) == downloads  # nothing downloaded


def test_an_archive_that_is_not_the_published_one_is_refused(bare: Setup) -> None:
    with bundle_mirror() as mirror:
        serve_go(mirror, GO, published_sha="0" * 64)
        with_install(bare, "[golang]", mirror)
        result = bare.run("provision")
        assert result.returncode != 0
        assert "installing bundle golang failed" in result.stderr
        assert "checksum mismatch for go1.23.4.linux-" in result.stderr
        assert bare.sh("ls /usr/local/go /usr/local/bin/go 2>&1").returncode != 0
        assert "golang" not in records_or_empty(bare).get(bare.vm, {})


def test_a_failing_step_shows_its_last_lines_and_a_rerun_resumes(bare: Setup) -> None:
    with bundle_mirror() as mirror:
        serve_uv(mirror, UV)  # Go's site is not there yet
        with_install(bare, "[uv, golang:1.23]", mirror)
        failed = bare.run("provision")
        assert failed.returncode != 0
        assert "uv: " + UV + " installed" in failed.stdout
        assert "installing bundle golang:1.23 failed" in failed.stderr
        assert "last lines of the installer's output" in failed.stderr
        assert "404" in failed.stderr  # curl's own words
        assert records(bare)[bare.vm]["uv"]["version"] == UV  # recorded despite the failure

        serve_go(mirror, GO)
        resumed = ok(bare.run("provision"))
        assert f"uv: {UV} already installed" in resumed
        assert f"golang:1.23: {GO} installed" in resumed
        assert bare.sh("uv --version").stdout.startswith(f"uv {UV}")
        assert set(records(bare)[bare.vm]) == {"uv", "golang"}


def test_a_different_version_is_replaced(bare: Setup) -> None:
    with bundle_mirror() as mirror:
        serve_go(mirror, "1.22.9")
        with_install(bare, "[golang:1.22]", mirror)
        ok(bare.run("provision"))
        serve_go(mirror, GO)
        with_install(bare, "[golang:1.23]", mirror)
        out = ok(bare.run("provision"))
        assert f"golang:1.23: {GO} installed (was 1.22.9)" in out
        assert bare.sh("go version").stdout.startswith(f"go version go{GO}")


def test_nodejs_line_is_resolved_and_checked_against_shasums(bare: Setup) -> None:
    with bundle_mirror() as mirror:
        serve_node(mirror, ["23.1.0", "22.11.0", "22.10.0", "20.18.0"])
        with_install(bare, "[nodejs:22]", mirror)
        out = ok(bare.run("provision"))
        assert "nodejs:22: 22.11.0 installed" in out
        assert bare.sh("node --version").stdout.strip() == "v22.11.0"
        assert "/nodejs/v22.11.0/SHASUMS256.txt" in mirror.requests


def test_rustup_init_is_checked_before_it_runs(bare: Setup) -> None:
    with bundle_mirror() as mirror:
        serve_rustup_init(mirror, published_sha="f" * 64)
        with_install(bare, "[rust]", mirror)
        refused = bare.run("provision")
        assert refused.returncode != 0
        assert "checksum mismatch for rustup-init" in refused.stderr
        assert bare.sh("sudo ls /opt/agsekit/rust").returncode != 0  # it never ran

        serve_rustup_init(mirror)
        out = ok(bare.run("provision"))
        assert "rust: 1.83.0 installed" in out
        assert bare.sh("cargo --version").stdout.startswith("cargo 1.83.0")
        with_install(bare, "[rust:1.80]", mirror)
        assert "rust:1.80: 1.80 installed (was 1.83.0)" in ok(bare.run("provision"))


def test_a_python_the_vm_has_is_only_checked_and_needs_no_uv(bare: Setup) -> None:
    """The double's guest shares the host's /usr: its python3.X (with ensurepip) is the
    one the VM has."""
    version = bare.sh("python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])'")
    minor = version.stdout.strip()
    with bundle_mirror() as mirror:
        with_install(bare, f"[python:{minor}]", mirror)
        out = ok(bare.run("provision"))
        assert f"python:{minor}: {minor}." in out and "already installed" in out
        assert "uv" not in out
        assert mirror.requests == []


def test_docker_in_place_is_only_checked(bare: Setup) -> None:
    """apt cannot install into the double's guest (its /usr is the host's, read-only): a
    stand-in docker, and the VM user in the docker group, as docker.io leaves them."""
    stand_in = "printf '#!/bin/sh\\necho \"Docker version 27.5.1, build 27.5.1-0ubuntu3\"\\n'"
    script = (
        f"{stand_in} | sudo tee /usr/local/bin/docker >/dev/null && "
        "sudo chmod 755 /usr/local/bin/docker && sudo groupadd --system docker"
    )
    assert bare.sh(script).returncode == 0
    with bundle_mirror() as mirror:
        with_install(bare, "[docker]", mirror)
        assert bare.sh("sudo usermod -aG docker ubuntu").returncode == 0
        out = ok(bare.run("provision"))
        assert "docker: 27.5.1 already installed" in out
        assert records(bare)[bare.vm]["docker"]["version"] == "27.5.1"


def test_create_vm_provisions_the_vm(bare: Setup) -> None:
    with bundle_mirror() as mirror:
        serve_go(mirror, GO)
        with_install(bare, "[golang]", mirror)
        out = ok(bare.run("create-vm", bare.vm))
        assert "already exists and matches the config" in out
        assert f"golang: {GO} installed" in out


def test_up_provisions_before_it_installs_agents(bare: Setup, tmp_path: Path) -> None:
    ssh = tmp_path / "host-tools" / "ssh"  # what `prepare` looks for besides multipass
    ssh.parent.mkdir()
    ssh.write_text("#!/bin/sh\nexit 0\n")
    ssh.chmod(0o755)
    service_fakes = Path(__file__).parents[1] / "service" / "fakes"  # never the real systemctl
    bare.env.update(
        {
            "PATH": f"{service_fakes}:{bare.env['PATH']}:{ssh.parent}",
            "AGSEKIT_SERVICE_MANAGER": "systemd",
            "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
            "AGSEKIT_FAKE_SERVICE_LOG": str(tmp_path / "service-calls"),
            "AGSEKIT_FAKE_SERVICE_STATE": str(tmp_path / "service-state"),
        }
    )
    install_stand_in(bare, "claude", "claude")
    with bundle_mirror() as mirror:
        serve_go(mirror, GO)
        with_install(bare, "[golang]", mirror)
        out = ok(bare.run("up"))
        assert f"[4/7] provision VMs: installed golang in {bare.vm}" in out
        assert "[5/7] install agents: " in out
        assert bare.sh("go version").stdout.startswith(f"go version go{GO}")
        again = ok(bare.run("up"))
        assert "[4/7] provision VMs: all bundles installed" in again


def records_or_empty(setup: Setup) -> dict[str, dict[str, dict[str, str]]]:
    try:
        return records(setup)
    except FileNotFoundError:
        return {}


def _arch() -> str:
    from tests.fakes.bundle_mirror import GO_ARCH

    return GO_ARCH
