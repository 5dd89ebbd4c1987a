"""The server name (SNI) of a TLS ClientHello, read from the first bytes a client sends
through a tunnel, so that the egress proxy can compare it with the CONNECT host."""

from __future__ import annotations

HANDSHAKE = 0x16
CLIENT_HELLO = 0x01
SERVER_NAME = 0x0000
HOST_NAME = 0x00


class NotHello(ValueError):
    """The bytes start like TLS but are not a ClientHello that can be read."""


def _take(data: bytes, at: int, size: int) -> tuple[bytes, int]:
    if at + size > len(data):
        raise NotHello("cut short")
    return data[at : at + size], at + size


def _number(data: bytes, at: int, size: int) -> tuple[int, int]:
    raw, at = _take(data, at, size)
    return int.from_bytes(raw, "big"), at


def looks_like_tls(first: bytes) -> bool:
    return first[:1] == bytes([HANDSHAKE])


def server_name(record: bytes) -> str | None:
    """The host_name of the ClientHello in record (the first TLS record), None when it has
    no server_name extension. NotHello when record is not a readable ClientHello."""
    if not looks_like_tls(record):
        raise NotHello("not a TLS handshake record")
    length, at = _number(record, 3, 2)
    body, _ = _take(record, 5, length)
    kind, at = _number(body, 0, 1)
    if kind != CLIENT_HELLO:
        raise NotHello("not a ClientHello")
    size, at = _number(body, at, 3)
    hello, _ = _take(body, at, size)
    at = 2 + 32  # client_version, random
    for width in (1, 2, 1):  # session_id, cipher_suites, compression_methods
        skip, at = _number(hello, at, width)
        _, at = _take(hello, at, skip)
    if at == len(hello):
        return None
    total, at = _number(hello, at, 2)
    extensions, _ = _take(hello, at, total)
    at = 0
    while at < len(extensions):
        ext, at = _number(extensions, at, 2)
        ext_size, at = _number(extensions, at, 2)
        data, at = _take(extensions, at, ext_size)
        if ext == SERVER_NAME:
            return _host_name(data)
    return None


def _host_name(data: bytes) -> str:
    total, at = _number(data, 0, 2)
    names, _ = _take(data, at, total)
    at = 0
    while at < len(names):
        kind, at = _number(names, at, 1)
        size, at = _number(names, at, 2)
        name, at = _take(names, at, size)
        if kind == HOST_NAME:
            try:
                return name.decode("ascii")
            except UnicodeDecodeError:
                raise NotHello("a server name that is not ASCII") from None
    raise NotHello("a server_name extension without a host name")
