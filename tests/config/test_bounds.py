"""Numbers in the config: real numbers only, finite, within sane bounds; never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from agsekit.config.load import load_config
from agsekit.core.errors import ConfigError
from tests.helpers import run_cli


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def only_problem(tmp_path: Path, text: str) -> str:
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1, problems
    return problems[0]


MOUNT = "vms: {a: {}}\nmounts:\n  - source: /p\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (".inf", "input should be a finite number (got .inf)"),
        ("-.inf", "input should be a finite number (got -.inf)"),
        (".nan", "input should be a finite number (got .nan)"),
        ("true", "input should be a valid number (got true)"),
        ('"5"', "input should be a valid number (got '5')"),
        ("10081", "input should be less than or equal to 10080 (got 10081)"),
        ("1e10", "input should be less than or equal to 10080 (got 10000000000.0)"),
        ("-1", "input should be greater than 0 (got -1)"),
    ],
)
def test_interval_must_be_a_real_positive_number_up_to_a_week(
    tmp_path: Path, value: str, expected: str
) -> None:
    problem = only_problem(tmp_path, f"{MOUNT}    interval: {value}\n")
    assert problem == f"config.yaml:4: mounts[0].interval: {expected}"


@pytest.mark.parametrize(("value", "minutes"), [("10080", 10080.0), ("0.5", 0.5), ("2", 2.0)])
def test_valid_intervals(tmp_path: Path, value: str, minutes: float) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"{MOUNT}    interval: {value}\n")
    assert load_config(path).mounts[0].interval_minutes == minutes


def test_an_anchored_true_is_not_the_number_one(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "alarm: {enabled: &yes true}\nvms:\n  a: {cpu: *yes}\n")
    assert problem == "config.yaml:3: vms.a.cpu: input should be a valid integer (got true)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cpu: 4097", "vms.a.cpu: input should be less than or equal to 4096 (got 4097)"),
        ("ram: 1025G", "vms.a.ram: memory above the maximum of 1024G (1 TiB) (got '1025G')"),
        ("ram: 2000000M", "vms.a.ram: memory above the maximum of 1024G (1 TiB)"),
        ("disk: 65537G", "vms.a.disk: disk above the maximum of 65536G (64 TiB) (got '65537G')"),
        ("disk: " + "9" * 5000 + ".5G", "vms.a.disk: disk above the maximum of 65536G"),
        ('ram: "' + "9" * 5000 + '"', "vms.a.ram: memory above the maximum of 1024G"),
    ],
)
def test_absurd_vm_sizes(tmp_path: Path, text: str, expected: str) -> None:
    problem = only_problem(tmp_path, f"vms:\n  a:\n    {text}\n")
    assert problem.startswith(f"config.yaml:3: {expected}"), problem


def test_largest_vm_sizes_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("vms:\n  a: {cpu: 4096, ram: 1024G, disk: 65536G}\n")
    vm = load_config(path).vms["a"]
    assert (vm.cpu, vm.ram, vm.disk) == (4096, "1024G", "65536G")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"0.5"', "input should be a valid number (got '0.5')"),
        ("true", "input should be a valid number (got true)"),
        (".nan", "input should be a finite number (got .nan)"),
        (".inf", "input should be a finite number (got .inf)"),
    ],
)
def test_deleted_fraction_is_a_real_finite_number(
    tmp_path: Path, value: str, expected: str
) -> None:
    problem = only_problem(tmp_path, f"alarm:\n  deleted_fraction: {value}\n")
    assert problem == f"config.yaml:2: alarm.deleted_fraction: {expected}"


@pytest.mark.parametrize("where", ["retention", "mounts[0].retention"])
def test_huge_keep_within_is_a_config_error(tmp_path: Path, where: str) -> None:
    if where == "retention":
        text = "retention:\n  keep_within: 99999999999d\n"
    else:
        text = f"{MOUNT}    retention:\n      keep_within: 99999999999d\n"
    problem = only_problem(tmp_path, text)
    assert problem.endswith(
        f"{where}.keep_within: longer than the maximum of 100 years (36500d) (got '99999999999d')"
    )


def test_cli_reports_overflowing_duration_and_infinite_interval(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"retention: {{keep_within: 99999999999d}}\n{MOUNT}    interval: .inf\n")
    proc = run_cli("config-check", "--config", path, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(proc.stderr.splitlines()[1:]) == [
        "  config.yaml:1: retention.keep_within: longer than the maximum of 100 years (36500d) "
        "(got '99999999999d')",
        "  config.yaml:5: mounts[0].interval: input should be a finite number (got .inf)",
    ]


def test_model_names_stay_out_of_messages(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "vms:\n  a: 5\n")
    assert problem == "config.yaml:2: vms.a: input should be a valid dictionary (got 5)"
