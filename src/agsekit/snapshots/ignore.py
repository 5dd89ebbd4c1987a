"""Placeholder: the gitignore-exact rules land from their own branch."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pathspec


class IgnoreRules:
    def __init__(self, specs: tuple[tuple[str, pathspec.GitIgnoreSpec], ...]) -> None:
        self._specs = specs

    @classmethod
    def root(cls, excludes: Sequence[str], ignore_file: bytes | None) -> IgnoreRules:
        specs: list[tuple[str, pathspec.GitIgnoreSpec]] = []
        if ignore_file:
            lines = ignore_file.decode("utf-8", "surrogateescape").splitlines()
            specs.append(("", pathspec.GitIgnoreSpec.from_lines(lines)))
        if excludes:
            specs.append(("", pathspec.GitIgnoreSpec.from_lines(list(excludes))))
        return cls(tuple(specs))

    def child(self, name: bytes, ignore_file: bytes | None) -> IgnoreRules:
        part = os.fsdecode(name) + "/"
        specs = [(prefix + part, spec) for prefix, spec in self._specs]
        if ignore_file:
            lines = ignore_file.decode("utf-8", "surrogateescape").splitlines()
            specs.insert(-1 if specs else 0, ("", pathspec.GitIgnoreSpec.from_lines(lines)))
        return IgnoreRules(tuple(specs))

    def excluded(self, name: bytes, is_dir: bool) -> bool:
        text = os.fsdecode(name) + ("/" if is_dir else "")
        verdict = False
        for prefix, spec in self._specs:
            result = spec.check_file(prefix + text)
            if result.include is not None:
                verdict = result.include
        return verdict

    @property
    def empty(self) -> bool:
        return not self._specs
