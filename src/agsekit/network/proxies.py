"""Which proxy an agent and the install steps use, and the environment that makes it so.

Three levels can set a proxy: `run --http-proxy/--proxychains`, the agent, the VM. The most
specific level that sets either key decides, so an agent's `proxychains` replaces its VM's
`http_proxy`, and an empty string at a level turns proxies off there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from agsekit.config.model import Proxies
from agsekit.core import proxyurl
from agsekit.core.errors import ConfigError, UsageError
from agsekit.core.references import Filled

Kind = Literal["http", "proxychains"]
# What the launcher reads proxychains' settings from (agents/launcher.py); it unsets them
# before the agent starts. The proxy's host is resolved in the VM: proxychains4 takes only
# a numeric address for it.
CHAINS_CONF = "AGSEKIT_PROXYCHAINS_CONF"
CHAINS_HOST = "AGSEKIT_PROXYCHAINS_HOST"
ADDRESS_SLOT = "@PROXY_ADDRESS@"
NO_PROXY_DEFAULTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class ProxyChoice:
    kind: Kind | None
    url: str = ""
    level: str = ""  # where it was set, for messages: "run", "agent claude", "VM agentvm"
    substituted: frozenset[str] = frozenset()  # values that came from ${NAME} references

    @property
    def shown(self) -> str:
        return proxyurl.redact(self.url)

    @property
    def secrets(self) -> frozenset[str]:
        found = proxyurl.secrets_of(self.url) if self.url else frozenset()
        return found | self.substituted

    def expanded(self, host: Mapping[str, str]) -> ProxyChoice:
        """With ${NAME} references replaced by the host's variables (a password need not
        be written into the config or onto a command line)."""
        if not self.url:
            return self
        filled = Filled()
        url = filled.fill(self.url, host)
        if filled.missing:
            raise ConfigError(
                f"the proxy of {self.level} needs the environment variable(s) "
                f"{filled.missing_names()}, which are not set",
                problems=[f"set them before running, e.g.: export {filled.missing[0]}=..."],
            )
        schemes = proxyurl.HTTP_SCHEMES if self.kind == "http" else proxyurl.CHAINS_SCHEMES
        try:
            proxyurl.parse(url, schemes)
        except ValueError as exc:
            raise ConfigError(
                f"the proxy of {self.level} is not a proxy URL once its variables are "
                f"filled in: {exc}"
            ) from None
        return replace(self, url=url, substituted=frozenset(filled.used))


def choose(levels: Sequence[tuple[str, Proxies]]) -> ProxyChoice:
    """levels from the most specific to the least; the first that sets a key decides."""
    for name, proxies in levels:
        if not proxies.set:
            continue
        if proxies.http_proxy and proxies.proxychains:
            raise UsageError(
                f"{name} sets both an HTTP proxy and proxychains: use one of them",
            )
        if proxies.http_proxy:
            return ProxyChoice("http", proxies.http_proxy, name)
        if proxies.proxychains:
            return ProxyChoice("proxychains", proxies.proxychains, name)
        return ProxyChoice(None, "", name)
    return ProxyChoice(None)


def http_environment(
    url: str, *, vm_addresses: Sequence[str] = (), node: bool = False
) -> list[tuple[str, str]]:
    """The variables that send HTTP(S) traffic through url, in both spellings (curl reads
    only the lower-case http_proxy; Node.js tools read either). NO_PROXY keeps the VM's own
    addresses direct. Node.js (24 and later) honours the variables by itself only with
    NODE_USE_ENV_PROXY=1; older releases ignore that variable."""
    no_proxy = ",".join(dict.fromkeys([*NO_PROXY_DEFAULTS, *vm_addresses]))
    values = []
    for name in ("HTTP_PROXY", "HTTPS_PROXY"):
        values += [(name, url), (name.lower(), url)]
    values += [("NO_PROXY", no_proxy), ("no_proxy", no_proxy)]
    if node:
        values.append(("NODE_USE_ENV_PROXY", "1"))
    return values


def agent_environment(
    choice: ProxyChoice, *, vm_addresses: Sequence[str] = (), node: bool = False
) -> list[tuple[str, str]]:
    if choice.kind == "http":
        return http_environment(choice.url, vm_addresses=vm_addresses, node=node)
    if choice.kind == "proxychains":
        conf, host = chains_config(choice.url)
        return [(CHAINS_CONF, conf), (CHAINS_HOST, host)]
    return []


def chains_config(url: str) -> tuple[str, str]:
    """proxychains4's configuration for url, with the proxy's address left as ADDRESS_SLOT,
    and the host to resolve into it. Loopback stays direct, so the agent still reaches
    what runs in the VM; names are resolved by the proxy (proxy_dns)."""
    parsed = proxyurl.parse(url, proxyurl.CHAINS_SCHEMES)
    kind = {"socks5h": "socks5", "socks4a": "socks4"}.get(parsed.scheme, parsed.scheme)
    entry = [kind, ADDRESS_SLOT, str(parsed.port)]
    if parsed.user is not None:
        credentials = [parsed.user, parsed.password or ""]
        if any(not part or any(ch.isspace() for ch in part) for part in credentials):
            raise UsageError(
                "proxychains reads a user and a password only when both are given and "
                "neither holds a space",
                hint="change the proxy's credentials, or use http_proxy instead",
            )
        entry += credentials
    lines = [
        "strict_chain",
        "proxy_dns",
        "remote_dns_subnet 224",
        "tcp_read_time_out 15000",
        "tcp_connect_time_out 8000",
        "localnet 127.0.0.0/255.0.0.0",
        "[ProxyList]",
        " ".join(entry),
    ]
    return "\n".join(lines) + "\n", parsed.host
