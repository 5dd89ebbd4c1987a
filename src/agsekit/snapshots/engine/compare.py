"""What changed between two trees: the basis of "take a snapshot or not" and of the
added / modified / deleted counts."""

from __future__ import annotations

from dataclasses import dataclass, field

from agsekit.snapshots.engine.tree import DIR, Tree, same_content


@dataclass
class Changes:
    added: list[bytes] = field(default_factory=list)
    modified: list[bytes] = field(default_factory=list)
    deleted: list[bytes] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.added or self.modified or self.deleted)

    def file_counts(self, old: Tree, new: Tree) -> tuple[int, int, int]:
        """(added, modified, deleted) counting files and links, not directories."""
        return (
            sum(1 for p in self.added if new[p].kind != DIR),
            sum(1 for p in self.modified if new[p].kind != DIR),
            sum(1 for p in self.deleted if old[p].kind != DIR),
        )


def compare(old: Tree, new: Tree) -> Changes:
    changes = Changes()
    for path, meta in new.items():
        before = old.get(path)
        if before is None:
            changes.added.append(path)
        elif not same_content(before, meta):
            changes.modified.append(path)
    if len(old) + len(changes.added) != len(new):
        changes.deleted = [p for p in old if p not in new]
    return changes
