"""The snap confinement rule for paths Multipass must read on Linux.

Multipass on Linux is a snap: it can only read folders under /home that are not inside a
hidden (dot) folder, and /media or /mnt only after `snap connect multipass:removable-media`.
Multipass itself then says "does not exist", which misleads; these messages name the rule.
"""

from __future__ import annotations

import os
import sys
from pathlib import PurePosixPath

from agsekit.core.paths import is_inside

RULE = "Multipass on Linux is a snap and only reads folders under /home that are not hidden"


def applies(platform: str | None = None) -> bool:
    """The rule holds wherever Multipass ships as a snap, which is Linux."""
    return (platform or sys.platform).startswith("linux")


def snap_problem(path: str | os.PathLike[str], home_root: str = "/home") -> str | None:
    """Why the snap cannot read path, or None when it can. Symlinks are resolved first,
    because the snap sees the real location."""
    real = PurePosixPath(os.path.realpath(path))
    root = PurePosixPath(home_root)
    if real.parts[:2] in (("/", "media"), ("/", "mnt")):
        return (
            f"{real} is on removable media, which the Multipass snap reads only after "
            "`sudo snap connect multipass:removable-media`"
        )
    if not is_inside(real, root):
        return f"{real} is outside {home_root}: {RULE}; move it under {home_root}"
    hidden = [part for part in real.relative_to(root).parts if part.startswith(".")]
    if hidden:
        return f"{real} is inside the hidden folder {hidden[0]}: {RULE}; move it out"
    return None
