"""`port-forwarding` on VMs: what each type needs, addresses, and listening clashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from agsekit.config.load import load_config
from agsekit.config.model import Address, Forward
from agsekit.core.errors import ConfigError


def load(tmp_path: Path, entries: str, other_vm: str = "") -> dict[str, tuple[Forward, ...]]:
    path = tmp_path / "config.yaml"
    path.write_text(f"vms:\n  a:\n    port-forwarding:\n{entries}{other_vm}")
    return {name: vm.forwards for name, vm in load_config(path).vms.items()}


def problems(tmp_path: Path, entries: str, other_vm: str = "") -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, entries, other_vm)
    return info.value.problems


def test_each_type_resolves(tmp_path: Path) -> None:
    forwards = load(
        tmp_path,
        "      - {type: local, host-addr: '127.0.0.1:8080', vm-addr: 'localhost:3000'}\n"
        "      - {type: remote, host-addr: '[::1]:11434', vm-addr: '127.0.0.1:11434'}\n"
        "      - {type: socks5, vm-addr: '127.0.0.1:1080'}\n",
    )["a"]
    assert forwards == (
        Forward("local", Address("localhost", 3000), Address("127.0.0.1", 8080)),
        Forward("remote", Address("127.0.0.1", 11434), Address("::1", 11434)),
        Forward("socks5", Address("127.0.0.1", 1080)),
    )
    assert str(forwards[1].host_addr) == "[::1]:11434"


def test_no_forwards_by_default(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("vms:\n  a: {}\n")
    assert load_config(path).vms["a"].forwards == ()


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "{type: local, host-addr: '127.0.0.1:0', vm-addr: '127.0.0.1:80'}",
            "config.yaml:4: vms.a.port-forwarding[0].host-addr: the port must be a number "
            "from 1 to 65535 (got '0') (got '127.0.0.1:0')",
        ),
        (
            "{type: local, host-addr: '127.0.0.1:65536', vm-addr: '127.0.0.1:80'}",
            "config.yaml:4: vms.a.port-forwarding[0].host-addr: the port must be a number "
            "from 1 to 65535 (got '65536') (got '127.0.0.1:65536')",
        ),
        (
            "{type: remote, host-addr: '8080', vm-addr: '127.0.0.1:80'}",
            "config.yaml:4: vms.a.port-forwarding[0].host-addr: must be HOST:PORT such as "
            "127.0.0.1:8080, [::1]:8080 or localhost:8080 (got '8080')",
        ),
        (
            "{type: remote, host-addr: '::1:8080', vm-addr: '127.0.0.1:80'}",
            "config.yaml:4: vms.a.port-forwarding[0].host-addr: an IPv6 address goes in "
            "brackets: [::1]:8080 (got '::1:8080')",
        ),
        (
            "{type: remote, host-addr: 'bad host:1', vm-addr: '127.0.0.1:80'}",
            "config.yaml:4: vms.a.port-forwarding[0].host-addr: 'bad host' is not a host name "
            "or address; must be HOST:PORT such as 127.0.0.1:8080, [::1]:8080 or "
            "localhost:8080 (got 'bad host:1')",
        ),
        (
            "{type: local, vm-addr: '127.0.0.1:80'}",
            "config.yaml:4: vms.a.port-forwarding[0]: a local forward needs host-addr "
            "(host-addr: where the host listens; vm-addr: the VM's service)",
        ),
        (
            "{type: socks5, host-addr: '127.0.0.1:1', vm-addr: '127.0.0.1:1080'}",
            "config.yaml:4: vms.a.port-forwarding[0].host-addr: a socks5 forward has no "
            "host-addr (vm-addr: where the SOCKS proxy listens in the VM (no host-addr)) "
            "(got '127.0.0.1:1')",
        ),
        (
            "{type: socks4, vm-addr: '127.0.0.1:1080'}",
            "config.yaml:4: vms.a.port-forwarding[0].type: input should be 'local', 'remote' "
            "or 'socks5' (got 'socks4')",
        ),
        (
            "{type: local, host-addr: 8080, vm-addr: '127.0.0.1:80'}",
            "config.yaml:4: vms.a.port-forwarding[0].host-addr: input should be a valid "
            "string (got 8080)",
        ),
        (
            "{type: local, hostaddr: '127.0.0.1:1', vm-addr: '127.0.0.1:80'}",
            "config.yaml:4: vms.a.port-forwarding[0].hostaddr: unknown key (did you mean "
            "'host-addr'?); allowed here: type, host-addr, vm-addr",
        ),
    ],
)
def test_bad_entries_are_one_line_each(tmp_path: Path, entry: str, expected: str) -> None:
    assert problems(tmp_path, f"      - {entry}\n") == [expected]


def test_vm_side_listening_clash(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "      - {type: remote, host-addr: '127.0.0.1:1', vm-addr: '127.0.0.1:9000'}\n"
        "      - {type: socks5, vm-addr: '0.0.0.0:9000'}\n",
    )
    assert found == [
        "config.yaml:5: vms.a.port-forwarding[1].vm-addr: the VM already listens on "
        "127.0.0.1:9000 for port-forwarding[0]; give each forward its own port "
        "(got '0.0.0.0:9000')"
    ]


def test_host_side_clash_across_vms(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "      - {type: local, host-addr: '127.0.0.1:8080', vm-addr: '127.0.0.1:80'}\n",
        "  b:\n    port-forwarding:\n"
        "      - {type: local, host-addr: '127.0.0.1:8080', vm-addr: '127.0.0.1:3000'}\n",
    )
    assert found == [
        "config.yaml:7: vms.b.port-forwarding[0].host-addr: the host already listens on "
        "127.0.0.1:8080 for vms.a.port-forwarding[0]; give each forward its own port "
        "(got '127.0.0.1:8080')"
    ]


def test_same_port_on_both_sides_is_fine(tmp_path: Path) -> None:
    forwards = load(
        tmp_path,
        "      - {type: local, host-addr: '127.0.0.1:8080', vm-addr: '127.0.0.1:8080'}\n"
        "      - {type: remote, host-addr: '127.0.0.1:8081', vm-addr: '127.0.0.1:8081'}\n"
        "      - {type: local, host-addr: '127.0.0.2:8081', vm-addr: '127.0.0.1:8082'}\n",
    )
    assert len(forwards["a"]) == 3
