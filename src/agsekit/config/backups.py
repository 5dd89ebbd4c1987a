"""Where each mount's snapshot store (its backup folder) goes, and where it must not go.

The agent can write anywhere in every mounted source, so a store inside any source (its own
included) could be emptied by the very agent it guards against. Stores must also be apart
from each other: two mounts sharing one would mix their snapshots.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from agsekit.core.paths import is_within, really_within


@dataclass(frozen=True)
class Store:
    index: int  # the mount's position in the config
    source: Path
    backup: Path
    default: bool  # chosen by default_backup, not written in the config


def default_backup(source: Path, sources: Sequence[Path]) -> Path:
    """`backups-<folder name>` beside the source. A source inside other sources gets its
    store beside the outermost of them, named after the path from there, so that it never
    lands inside a source: /p/sub, with /p also mounted, gets /backups-p-sub."""
    # As written, not with symlinks resolved: the name is made of the path as written.
    holders = [s for s in sources if is_within(source, s)]
    outer = min(holders, key=lambda s: len(s.parts), default=source)
    name = "-".join(source.relative_to(outer.parent).parts)
    return outer.parent / f"backups-{name}"


def store_problems(stores: Sequence[Store]) -> Iterator[tuple[Store, str]]:
    """(store, message) for each store that is misplaced: the first reason only."""
    for store in stores:
        reason = _own_source(store) or _others(store, stores)
        if reason is not None:
            hint = "; it is the default: set 'backup:' to a folder outside every source"
            yield store, reason + (hint if store.default else "")


def _own_source(store: Store) -> str | None:
    if _within(store.source, store.backup):
        return "the backup folder must not be the source or contain it"
    if _within(store.backup, store.source):
        return (
            "the backup folder must not be inside the source: "
            "the agent could delete its own snapshots"
        )
    return None


def _others(store: Store, stores: Sequence[Store]) -> str | None:
    for other in stores:
        if other.index == store.index:
            continue
        name = f"mounts[{other.index}]"
        if _within(store.backup, other.source):
            return (
                f"the backup folder must not be in the source of {name} "
                f"({str(other.source)!r}): the agent working there could delete these snapshots"
            )
        if _within(other.source, store.backup):
            return f"the backup folder must not hold the source of {name} ({str(other.source)!r})"
        if other.index < store.index and _within(store.backup, other.backup):
            if _within(other.backup, store.backup):
                return f"the same backup folder as {name}"
            return f"the backup folder must not be inside the backup folder of {name}"
        if other.index < store.index and _within(other.backup, store.backup):
            return f"the backup folder must not hold the backup folder of {name}"
    return None


def _within(path: Path, folder: Path) -> bool:
    """path is folder or inside it, as written or with symlinks resolved."""
    return is_within(path, folder) or really_within(path, folder)
