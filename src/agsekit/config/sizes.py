"""Multipass size syntax (`4G`, `4096M`, `1.5GiB`, `512B`), its minimums and our maximums."""

from __future__ import annotations

import re
from decimal import Decimal

_SIZE = re.compile(r"(?:(\d+)(?:B)?|(\d+(?:\.\d+)?)([KMG])(?:i?B)?)", re.IGNORECASE | re.ASCII)
_FACTOR = {"K": 1024, "M": 1024**2, "G": 1024**3}

MIN_MEMORY = 128 * 1024**2
MIN_DISK = 512 * 1024**2
# Far beyond any machine a VM runs on today: larger values are typing mistakes.
MAX_MEMORY = 1024**4
MAX_DISK = 64 * 1024**4


def parse_size(text: str) -> int:
    """Bytes for a Multipass size; ValueError with Multipass' own advice otherwise."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(
            "not a Multipass size: use an integer number of bytes or a number followed by "
            "K, M or G (e.g. 4G, 4096M, 1.5G)"
        )
    # Decimal, not int() or float(): thousands of digits neither overflow nor hit the
    # int-from-string digit limit.
    if match.group(1) is not None:
        return int(Decimal(match.group(1)))
    return int(Decimal(match.group(2)) * _FACTOR[match.group(3).upper()])


def format_size(num_bytes: int) -> str:
    value = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}GiB"
