"""The agent's command line: its `default_args` from the config, then the user's.

An option the user gives replaces the default option of the same name instead of being
passed twice (`default_args: [--model, o3]` and `run codex --model o4-mini` gives
`--model o4-mini` once). A default option takes the words after it, up to the next
option, as its value; `--name=value` is the same option as `--name value`.
"""

from __future__ import annotations

from collections.abc import Sequence

END_OF_OPTIONS = "--"


def option_name(word: str) -> str | None:
    """`--model=o3` -> `--model`; `-v` -> `-v`; not an option -> None."""
    if len(word) < 2 or not word.startswith("-") or word == END_OF_OPTIONS:
        return None
    return word.split("=", 1)[0]


def agent_arguments(defaults: Sequence[str], given: Sequence[str]) -> list[str]:
    """The defaults without the options the user gives again, then the user's words."""
    overridden = _options_given(given)
    kept: list[str] = []
    dropping = False
    for index, word in enumerate(defaults):
        if word == END_OF_OPTIONS:
            kept += defaults[index:]  # what follows is not options: keep it whole
            break
        name = option_name(word)
        if name is not None:
            dropping = name in overridden
        if not dropping:
            kept.append(word)
    return [*kept, *given]


def _options_given(given: Sequence[str]) -> set[str]:
    names = set()
    for word in given:
        if word == END_OF_OPTIONS:
            break
        name = option_name(word)
        if name is not None:
            names.add(name)
    return names
