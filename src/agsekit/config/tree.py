"""The YAML document as ruamel reads it, guarded, and as plain Python values.

Guards, before anything walks the tree: aliases may not expand it by more than a small
bound (a 9-line "billion laughs" config is 387 million nodes once expanded, and a mapping
cannot be validated without expanding it), nesting is bounded, and scalars Python cannot
build (an integer of 5000 digits, 2024-02-30) are YAML errors with their line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarbool import ScalarBoolean

from agsekit.core.errors import ConfigError

Loc = tuple[str | int, ...]

MAX_ALIAS_NODES = 10_000  # nodes that aliases may add to the tree, all aliases together
MAX_DEPTH = 50
_CHARS_PER_NODE = 100  # a long string repeated by an alias weighs as this many characters


class TreeError(Exception):
    """A problem with the document's structure, at the key path `loc`."""

    def __init__(self, loc: Loc, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message
        self.line = line  # when the line of loc in the loaded tree would be the wrong one


class _Constructor(RoundTripConstructor):
    """Values Python cannot build become YAML errors at their line, not tracebacks."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError, LookupError, TypeError) as exc:
            what = f" {node.value!r}" if isinstance(node, ScalarNode) else ""
            why = "" if isinstance(exc, LookupError) else f": {exc}"  # a KeyError says nothing
            raise ConstructorError(
                None, None, f"cannot read the value{what}{why}", node.start_mark
            ) from None


def parse_yaml(text: str, path: Path) -> Any:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        context = f"{exc.context}, " if exc.context else ""
        raise ConfigError(f"{path}{line}: not valid YAML: {context}{exc.problem}") from None
    except ReaderError as exc:
        number = text.count("\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise ConfigError(
            f"{path}:{number}: not valid YAML: the character U+{char:04X} is not allowed "
            '(write it as an escape in a double-quoted string, e.g. "\\t")'
        ) from None
    except YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None


def check_tree(tree: Any, text: str) -> None:
    """TreeError when aliases expand the tree beyond MAX_ALIAS_NODES or it nests deeper than
    MAX_DEPTH. Each shared node is measured once, so checking a bomb is cheap."""
    try:
        _Expansion().weigh(tree, ())
    except _TooManyAliases as exc:
        raise TreeError(exc.loc, exc.message, _first_alias_line(text)) from None


def _first_alias_line(text: str) -> int | None:
    # The loaded tree cannot tell: ruamel records an aliased list item at its anchor's line.
    for event in YAML(typ="rt").parse(text):
        if isinstance(event, AliasEvent):
            return int(event.start_mark.line) + 1
    return None


class _TooManyAliases(TreeError):
    pass


class _Expansion:
    def __init__(self) -> None:
        self.weights: dict[int, int] = {}  # id of a node seen -> its weight, expanded
        self.open: set[int] = set()  # containers being weighed (a cycle if seen again)
        self.first_alias: Loc | None = None
        self.added = 0

    def weigh(self, node: Any, loc: Loc) -> int:
        key = id(node)
        if key in self.open:
            raise TreeError(loc, "a YAML alias here refers to a node that holds it")
        if key in self.weights:
            return self._alias(loc, self.weights[key])
        if not isinstance(node, (dict, list)):
            weight = _scalar_weight(node)
            if _is_ruamel_scalar(node):  # fresh per scalar, so seeing it again is an alias
                self.weights[key] = weight
            return weight
        if len(loc) >= MAX_DEPTH:
            raise TreeError(loc, f"nested more than {MAX_DEPTH} levels deep")
        self.open.add(key)
        items = node.items() if isinstance(node, dict) else enumerate(node)
        weight = 1 + sum(self.weigh(child, (*loc, _part(part))) for part, child in items)
        self.open.discard(key)
        self.weights[key] = weight
        return weight

    def _alias(self, loc: Loc, weight: int) -> int:
        self.first_alias = self.first_alias or loc
        self.added += weight
        if self.added > MAX_ALIAS_NODES:
            raise _TooManyAliases(
                self.first_alias,
                f"YAML aliases (the first one here) expand the configuration by more than "
                f"{MAX_ALIAS_NODES} values; write the values out or use fewer aliases",
            )
        return weight


def _part(key: Any) -> str | int:
    return key if isinstance(key, int) and not isinstance(key, bool) else _key(key)


def _scalar_weight(node: Any) -> int:
    return 1 + len(node) // _CHARS_PER_NODE if isinstance(node, str) else 1


def _is_ruamel_scalar(node: Any) -> bool:
    return type(node) not in (str, int, float, bool, type(None))


def to_plain(node: Any) -> Any:
    """Plain dicts, lists and scalars (keys kept in order).

    ruamel's round-trip scalars are subclasses that validation would take at face value:
    an anchored `true` is a ScalarBoolean, which is an int, so `cpu: &x true` would be 1.
    """
    if isinstance(node, dict):
        return {_key(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    return _scalar(node)


def _key(key: Any) -> str:
    plain = _scalar(key)
    if plain is None or isinstance(plain, bool):
        return {None: "null", True: "true", False: "false"}[plain]
    return plain if isinstance(plain, str) else str(plain)


def _scalar(value: Any) -> Any:
    if isinstance(value, (bool, ScalarBoolean)):
        return bool(value)
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value
