"""The catalogue and the plan, without a VM: list-bundles, what a config's list needs,
which version satisfies which request, and where downloads come from."""

from __future__ import annotations

import json

from agsekit.config.model import BundleSpec
from agsekit.provision.catalogue import CATALOGUE
from agsekit.provision.run import OFFICIAL_BASES, base_url, satisfied, with_needs
from agsekit.provision.scripts import INSTALL
from tests.helpers import run_cli


def test_list_bundles_shows_each_bundle_with_its_source() -> None:
    result = run_cli("list-bundles", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["name"] for row in rows] == [
        "python", "nodejs", "golang", "rust", "docker", "uv", "pyenv", "nvm"
    ]  # fmt: skip
    assert all(row["installs"] and row["source"] and row["verified"] for row in rows)
    table = run_cli("list-bundles")
    assert table.returncode == 0
    assert "docker.io" in table.stdout and "SHASUMS256.txt" in table.stdout


def test_every_bundle_has_an_install_step() -> None:
    assert set(INSTALL) == set(CATALOGUE)


def test_a_versioned_python_gets_uv_first() -> None:
    assert with_needs([BundleSpec("python", "3.13"), BundleSpec("golang")]) == [
        BundleSpec("uv"),
        BundleSpec("python", "3.13"),
        BundleSpec("golang"),
    ]
    listed_after = [BundleSpec("python", "3.13"), BundleSpec("uv", "0.5.11")]
    assert with_needs(listed_after) == [BundleSpec("uv", "0.5.11"), BundleSpec("python", "3.13")]
    assert with_needs([BundleSpec("python")]) == [BundleSpec("python")]  # Ubuntu's


def test_a_version_line_is_met_by_any_release_of_it() -> None:
    assert satisfied(BundleSpec("golang", "1.23"), "1.23.4")
    assert satisfied(BundleSpec("golang", "1.23.4"), "1.23.4")
    assert not satisfied(BundleSpec("golang", "1.2"), "1.23.4")
    assert not satisfied(BundleSpec("nodejs", "22"), "20.18.0")
    assert satisfied(BundleSpec("docker"), "27.5.1")
    assert not satisfied(BundleSpec("docker"), None)


def test_a_mirror_replaces_only_the_archive_sites() -> None:
    mirror = {"AGSEKIT_BUNDLE_MIRROR": "http://127.0.0.1:9/"}
    assert base_url("golang", {}) == "https://go.dev/dl"
    assert base_url("golang", mirror) == "http://127.0.0.1:9/golang"
    assert base_url("docker", mirror) == ""  # apt: Ubuntu's archive, whatever the mirror
    assert all(url.startswith("https://") for url in OFFICIAL_BASES.values())
