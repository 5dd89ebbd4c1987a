"""`network:` of the VMs and agents: the keys each level sets, and the checks across them
(an `allow:` list or `block_host_and_lan` where the mode is open would protect nothing,
and the user would believe it does)."""

from __future__ import annotations

from agsekit.config.messages import Locator
from agsekit.config.model import NetworkKeys, NetworkPolicy
from agsekit.config.schema import NetworkModel

Where = tuple[str | int, ...]


def network_keys(raw: NetworkModel | None) -> NetworkKeys | None:
    if raw is None:
        return None
    allow = tuple(raw.allow) if raw.allow is not None else None
    return NetworkKeys(raw.mode, allow, raw.block_host_and_lan)


def vm_policy(
    raw: NetworkModel | None, where: Where, locator: Locator, problems: list[str]
) -> NetworkPolicy:
    keys = network_keys(raw)
    if keys is None:
        return NetworkPolicy()
    check_open(keys, keys.mode or "open", where, locator, problems)
    return keys.over(NetworkPolicy())


def check_open(
    keys: NetworkKeys, mode: str, where: Where, locator: Locator, problems: list[str]
) -> None:
    """Keys that only an allowlist reads, set where the mode comes out open."""
    if mode != "open":
        return
    for key in ("allow", "block_host_and_lan"):
        if getattr(keys, key) is not None:
            problems.append(
                locator.problem(
                    (*where, "network", key),
                    "has no effect while the mode is open: add `mode: allowlist` (here or "
                    "on the VM) to enforce it",
                )
            )
