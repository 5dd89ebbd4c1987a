"""provision: put each VM's `install:` bundles into it.

One round trip per VM asks what is there; only what is missing (or of another version than
asked for) is installed, one small step per bundle, each checked again afterwards. What a
run installed is recorded, also when a later step fails, and a second run resumes: the
check finds what the first one put in place.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agsekit.agents.catalogue import NODE_VERSION
from agsekit.agents.install import (
    InstallError,
    Place,
    install_environment,
    run_step,
    state_file,
    tail,
)
from agsekit.config.model import BundleSpec, Config
from agsekit.core import records
from agsekit.core.reporting import Reporter
from agsekit.provision import scripts
from agsekit.provision.catalogue import CATALOGUE, NVM_TAG, PYENV_TAG
from agsekit.vm.backend import VmBackend

# For tests and mirrors only: a base URL under which NAME/ stands in for each archive
# bundle's official download site (read on the host, passed to the step as an argument).
MIRROR_VARIABLE = "AGSEKIT_BUNDLE_MIRROR"

OFFICIAL_BASES = {
    "nodejs": "https://nodejs.org/dist",
    "golang": "https://go.dev/dl",
    "rust": "https://static.rust-lang.org",
    "uv": "https://github.com/astral-sh/uv/releases",
    "pyenv": "https://github.com/pyenv/pyenv.git",
    "nvm": "https://github.com/nvm-sh/nvm.git",
}

# The version a step installs when none is asked for ("": the newest, or Ubuntu's).
DEFAULT_VERSIONS = {
    "nodejs": NODE_VERSION,
    "pyenv": PYENV_TAG.lstrip("v"),
    "nvm": NVM_TAG.lstrip("v"),
}


@dataclass(frozen=True)
class BundleResult:
    vm: str
    bundle: str
    version: str
    action: str  # "present" or "installed"


def base_url(name: str, environ: Mapping[str, str]) -> str:
    """Where a bundle's downloads are: the official site, or NAME under the mirror."""
    if name not in OFFICIAL_BASES:
        return ""
    mirror = environ.get(MIRROR_VARIABLE, "").rstrip("/")
    return f"{mirror}/{name}" if mirror else OFFICIAL_BASES[name]


def satisfied(spec: BundleSpec, found: str | None) -> bool:
    """The version in the VM is what the config asks for (any, without a version)."""
    if found is None:
        return False
    wanted = spec.version
    return wanted is None or found == wanted or found.startswith(wanted + ".")


def with_needs(specs: Sequence[BundleSpec]) -> list[BundleSpec]:
    """The bundles, each one that another needs first (python:3.12 needs uv), also when
    it is not listed."""
    needed = {n for s in specs if s.version for n in CATALOGUE[s.name].needs_for_version}
    extra = [BundleSpec(name) for name in sorted(needed - {s.name for s in specs})]
    return sorted([*extra, *specs], key=lambda s: s.name not in needed)


def check_bundles(
    backend: VmBackend, vm: str, specs: Sequence[BundleSpec]
) -> dict[str, str | None]:
    """What is installed of each bundle, in one exec: name -> version (None: missing)."""
    items = [part for s in specs for part in (s.name, s.version or "-")]
    result = backend.exec(vm, ["bash", "-c", scripts.CHECK, "agsekit-check", *items])
    if result.returncode != 0:
        raise InstallError(f"could not look at what is installed in {vm}: {tail(result.stderr)}")
    found: dict[str, str | None] = {s.name: None for s in specs}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "bundle" and parts[1].isdigit():
            index = int(parts[1])
            if index < len(specs):
                found[specs[index].name] = None if parts[2] == "-" else parts[2]
    return found


def provision(
    config: Config,
    vms: Sequence[str],
    backend: VmBackend,
    reporter: Reporter,
    environ: Mapping[str, str] | None = None,
) -> list[BundleResult]:
    """Install the missing bundles of each VM; every result is recorded, even when a
    later step fails."""
    env = os.environ if environ is None else environ
    results: list[BundleResult] = []
    try:
        for vm in vms:
            if config.vms[vm].install:
                _provision_vm(config, vm, backend, reporter, env=env, results=results)
    finally:
        record_bundles(results)
    return results


def provision_running(
    config: Config, vms: Sequence[str], backend: VmBackend, reporter: Reporter
) -> list[BundleResult]:
    """Provision those of the VMs that run and list bundles (after create-vm, in up)."""
    chosen = [
        vm
        for vm in vms
        if config.vms[vm].install and (s := backend.status(vm)) is not None and s.running
    ]
    return provision(config, chosen, backend, reporter) if chosen else []


def _provision_vm(
    config: Config,
    vm: str,
    backend: VmBackend,
    reporter: Reporter,
    *,
    env: Mapping[str, str],
    results: list[BundleResult],
) -> None:
    listed = config.vms[vm].install
    specs = with_needs(listed)
    reporter.info(f"[{vm}] checking installed bundles")
    found = check_bundles(backend, vm, specs)
    place = Place(backend, vm, reporter, install_environment(config, vm, None))
    for spec in still_needed(specs, listed, found):
        results.append(_ensure(place, spec, found[spec.name], env))


def still_needed(
    specs: Sequence[BundleSpec], listed: Sequence[BundleSpec], found: Mapping[str, str | None]
) -> list[BundleSpec]:
    """The specs without the bundles added only as needs of bundles already in place (uv
    is not installed for a python:3.X the VM has)."""
    missing = [s for s in listed if not satisfied(s, found[s.name])]
    wanted = {s.name for s in listed} | {
        need for s in missing if s.version for need in CATALOGUE[s.name].needs_for_version
    }
    return [spec for spec in specs if spec.name in wanted]


def _ensure(
    place: Place, spec: BundleSpec, found: str | None, environ: Mapping[str, str]
) -> BundleResult:
    vm, name = place.vm, spec.name
    label = f"{name}:{spec.version}" if spec.version else name
    if satisfied(spec, found) and found is not None:
        place.reporter.info(f"[{vm}] {label}: {found} already installed")
        return BundleResult(vm, name, found, "present")
    version = spec.version or DEFAULT_VERSIONS.get(name, "")
    args = [version, base_url(name, environ)]
    run_step(place, title=f"bundle {label}", script=scripts.INSTALL[name], args=args)
    now = check_bundles(place.backend, vm, [spec])[name]
    if now is None or not satisfied(spec, now):
        got = f"{name} {now} is there instead" if now else f"{name} is still missing"
        raise InstallError(f"[{vm}] installing bundle {label} ran, but {got}")
    before = f" (was {found})" if found else ""
    place.reporter.info(f"[{vm}] {label}: {now} installed{before}")
    return BundleResult(vm, name, now, "installed")


def records_file(environ: Mapping[str, str] | None = None) -> Path:
    return state_file(environ).with_name("bundles.json")


def read_records(path: Path | None = None) -> records.Records:
    """What provision recorded: VM -> bundle -> version, installed (when)."""
    return records.read(path or records_file())


def record_bundles(results: Sequence[BundleResult]) -> None:
    if results:
        records.record(
            records_file(),
            (records.Installed(r.vm, r.bundle, r.version, r.action != "present") for r in results),
        )
