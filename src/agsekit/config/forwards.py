"""`port-forwarding` of the VMs: which addresses each type needs, and no two forwards that
listen on the same address (on the host across every VM, in a VM within that VM)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agsekit.config.checks import split_address
from agsekit.config.messages import Locator
from agsekit.config.model import Address, Forward
from agsekit.config.schema import ForwardModel, VmModel

# type -> (host-addr wanted, what the key means for it)
_NEEDS = {
    "local": (True, "host-addr: where the host listens; vm-addr: the VM's service"),
    "remote": (True, "host-addr: the host's service; vm-addr: where the VM listens"),
    "socks5": (False, "vm-addr: where the SOCKS proxy listens in the VM (no host-addr)"),
}


def resolve_forwards(
    vms: Mapping[str, VmModel], locator: Locator, problems: list[str]
) -> dict[str, tuple[Forward, ...]]:
    resolved = {
        name: _vm_forwards(name, vm.port_forwarding, locator, problems) for name, vm in vms.items()
    }
    _host_duplicates(resolved, locator, problems)
    return {name: tuple(f for _, f in items) for name, items in resolved.items()}


Located = list[tuple[int, Forward]]


def _vm_forwards(
    vm: str, models: Sequence[ForwardModel], locator: Locator, problems: list[str]
) -> Located:
    out: Located = []
    for index, model in enumerate(models):
        where = ("vms", vm, "port-forwarding", index)
        forward = _one(model, where, locator, problems)
        if forward is None:
            continue
        clash = _vm_clash(forward, out)
        if clash is not None:
            problems.append(
                locator.problem(
                    (*where, "vm-addr"),
                    f"the VM already listens on {clash[1].listen} for port-forwarding"
                    f"[{clash[0]}]; give each forward its own port",
                    str(forward.vm_addr),
                )
            )
        out.append((index, forward))
    return out


def _one(
    model: ForwardModel, where: tuple[str | int, ...], locator: Locator, problems: list[str]
) -> Forward | None:
    wants_host, meaning = _NEEDS[model.type]
    if model.vm_addr is None or (wants_host and model.host_addr is None):
        missing = [
            key
            for key, value in (("vm-addr", model.vm_addr), ("host-addr", model.host_addr))
            if value is None and (key == "vm-addr" or wants_host)
        ]
        problems.append(
            locator.problem(
                where, f"a {model.type} forward needs {' and '.join(missing)} ({meaning})"
            )
        )
        return None
    if model.host_addr is not None and not wants_host:
        problems.append(
            locator.problem(
                (*where, "host-addr"),
                f"a {model.type} forward has no host-addr ({meaning})",
                model.host_addr,
            )
        )
        return None
    host = _address(model.host_addr) if model.host_addr is not None else None
    return Forward(model.type, _address(model.vm_addr), host)


def _address(text: str) -> Address:
    host, port = split_address(text)
    return Address(host, port)


def _vm_clash(forward: Forward, earlier: Located) -> tuple[int, Forward] | None:
    if forward.listens_on_host:
        return None
    return next(
        (
            (i, other)
            for i, other in earlier
            if not other.listens_on_host and other.listen.overlaps(forward.listen)
        ),
        None,
    )


def _host_duplicates(
    resolved: Mapping[str, Located], locator: Locator, problems: list[str]
) -> None:
    seen: list[tuple[str, int, Forward]] = []
    for vm, items in resolved.items():
        for index, forward in items:
            if not forward.listens_on_host:
                continue
            clash = next((s for s in seen if s[2].listen.overlaps(forward.listen)), None)
            if clash is not None:
                problems.append(
                    locator.problem(
                        ("vms", vm, "port-forwarding", index, "host-addr"),
                        f"the host already listens on {clash[2].listen} for "
                        f"vms.{clash[0]}.port-forwarding[{clash[1]}]; give each forward "
                        "its own port",
                        str(forward.host_addr),
                    )
                )
            seen.append((vm, index, forward))
