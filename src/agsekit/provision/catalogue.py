"""The bundles a VM's `install:` may list: what each installs, where it comes from, what is
checked before it is used, and which versions it takes. Pure data: the config reads it to
validate `install:`, `list-bundles` shows it, provision.scripts holds the steps."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from agsekit.agents.catalogue import NODE_VERSION

PYENV_TAG = "v2.5.0"
NVM_TAG = "v0.40.1"


@dataclass(frozen=True)
class Bundle:
    name: str
    installs: str  # what it puts into the VM
    source: str  # where it comes from
    verified: str  # what is checked before it is used
    versions: str  # which versions `NAME:VERSION` takes, or "none"
    pattern: str | None  # a version's shape; None: the bundle takes no version
    needs_for_version: tuple[str, ...] = ()  # installed first when a version is asked for


CATALOGUE: dict[str, Bundle] = {
    bundle.name: bundle
    for bundle in (
        Bundle(
            "python",
            "python3, venv and pip; with a version, that CPython as python3.X",
            "Ubuntu's packages (apt); another version: `uv python install` "
            "(python-build-standalone)",
            "apt's signed archive; uv checks the sha256 of each Python build it fetches",
            "3.X or 3.X.Y (default: Ubuntu's python3)",
            r"3\.\d+(\.\d+)?",
            needs_for_version=("uv",),
        ),
        Bundle(
            "nodejs",
            "node, npm and npx in /usr/local",
            "the official build from nodejs.org/dist",
            "the archive's sha256 against the release's SHASUMS256.txt",
            f"MAJOR, MAJOR.MINOR or a full version (default: {NODE_VERSION})",
            r"\d+(\.\d+){0,2}",
        ),
        Bundle(
            "golang",
            "go and gofmt in /usr/local/go",
            "the official archive from go.dev/dl",
            "the archive's sha256 against the one go.dev/dl/?mode=json publishes",
            "1.X or 1.X.Y (default: the newest stable release)",
            r"1\.\d+(\.\d+)?",
        ),
        Bundle(
            "rust",
            "rustup, cargo and rustc for every user (RUSTUP_HOME /opt/agsekit/rust)",
            "rustup-init from static.rust-lang.org, which then fetches the toolchain",
            "rustup-init's sha256 against its published .sha256 before it runs; rustup "
            "checks the toolchain's",
            "1.X or 1.X.Y (default: stable)",
            r"1\.\d+(\.\d+)?",
        ),
        Bundle(
            "docker",
            "Docker Engine; the VM's user joins the docker group",
            "Ubuntu's docker.io package (apt)",
            "apt's signed archive",
            "none",
            None,
        ),
        Bundle(
            "uv",
            "uv and uvx in /usr/local/bin",
            "the release tarball from github.com/astral-sh/uv",
            "the tarball's sha256 against the release's .sha256 file",
            "X.Y.Z (default: the latest release)",
            r"\d+\.\d+\.\d+",
        ),
        Bundle(
            "pyenv",
            "pyenv in the VM user's ~/.pyenv, set up in ~/.bashrc",
            "git clone of a release tag of github.com/pyenv/pyenv",
            "HTTPS only; the tag's commit is not pinned",
            f"X.Y.Z (default: {PYENV_TAG.lstrip('v')})",
            r"\d+\.\d+\.\d+",
        ),
        Bundle(
            "nvm",
            "nvm in the VM user's ~/.nvm, set up in ~/.bashrc",
            "git clone of a release tag of github.com/nvm-sh/nvm",
            "HTTPS only; the tag's commit is not pinned",
            f"X.Y.Z (default: {NVM_TAG.lstrip('v')})",
            r"\d+\.\d+\.\d+",
        ),
    )
}


def parse_item(text: str) -> tuple[str, str | None]:
    """`NAME` or `NAME:VERSION` of a catalogued bundle; ValueError says what is wrong."""
    name, colon, version = text.partition(":")
    bundle = CATALOGUE.get(name)
    if bundle is None:
        close = difflib.get_close_matches(name, list(CATALOGUE), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ValueError(f"unknown bundle ({hint}known: {', '.join(CATALOGUE)})")
    if not colon:
        return name, None
    if bundle.pattern is None:
        raise ValueError(f"{name} takes no version: write just '{name}'")
    if not re.fullmatch(bundle.pattern, version, re.ASCII):
        raise ValueError(f"not a version of {name}: {bundle.versions}, e.g. '{_example(name)}'")
    return name, version


def _example(name: str) -> str:
    return {"python": "python:3.12", "nodejs": "nodejs:22", "golang": "golang:1.23"}.get(
        name, f"{name}:1.2.3" if name != "rust" else "rust:1.83"
    )
