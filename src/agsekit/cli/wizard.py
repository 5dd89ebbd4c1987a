"""config-gen's questions, asked with questionary on a terminal. Every answer is checked
as it is typed (config.generate), and a wrong one is asked again with the reason shown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import questionary

from agsekit.agents.catalogue import CATALOGUE
from agsekit.config import generate as gen
from agsekit.config.sizes import format_size
from agsekit.snapshots.ignore.stacks import IGNORE_NAME, STACKS, detected_stacks
from agsekit.vm.capacity import HOST_RESERVED_CPUS, HostCapacity


@dataclass
class Result:
    answers: gen.Answers = field(default_factory=gen.Answers)
    ignores: list[tuple[Path, list[str]]] = field(default_factory=list)  # written after


def ask_everything(path: Path, host: HostCapacity, cwd: Path) -> Result:
    result = Result()
    click.echo(
        f"This host has {host.cpus} CPUs and {format_size(host.memory)} of RAM; it keeps "
        f"{HOST_RESERVED_CPUS} CPU and 1.0GiB for itself.\nFirst the VMs the agents run in."
    )
    _vms(result.answers, host)
    _mounts(result, path, cwd)
    _agents(result.answers)
    return result


def _vms(answers: gen.Answers, host: HostCapacity) -> None:
    while True:
        name = _text(
            "Name of the VM:",
            "" if answers.vms else "agent-ubuntu",
            lambda v: gen.vm_name_problem(v, answers),
        )
        cpu = int(
            _text(
                "vCPUs:", "2" if host.cpus > 2 else "1", lambda v: gen.cpu_problem(v, answers, host)
            )
        )
        ram = _text("RAM (e.g. 4G, 2048M):", "4G", lambda v: gen.ram_problem(v, answers, host))
        disk = _text("Disk (e.g. 20G):", "20G", gen.disk_problem)
        answers.vms.append(gen.VmAnswer(name, cpu, ram, disk))
        if not _confirm("Add another VM?", default=False):
            return


def _mounts(result: Result, path: Path, cwd: Path) -> None:
    answers = result.answers
    question = "Add a project folder to mount into a VM (and snapshot)?"
    while _confirm(question, default=not answers.mounts):
        default = str(cwd) if gen.source_problem(str(cwd), answers, path) is None else ""
        raw = _text(
            "Project folder (absolute path):",
            default,
            lambda v: gen.source_problem(v, answers, path),
            path_prompt=True,
        )
        source = Path(raw).expanduser()
        vm = _vm(answers, f"VM for {source.name}:")
        interval = float(_text("Minutes between snapshots:", "5", gen.interval_problem))
        answers.mounts.append(gen.MountAnswer(source, vm, interval))
        stacks = _ignore(source)
        if stacks:
            result.ignores.append((source, stacks))
        question = "Add another folder?"


def _ignore(source: Path) -> list[str]:
    if (source / IGNORE_NAME).exists():
        click.echo(f"{source / IGNORE_NAME} exists; it stays as it is.")
        return []
    found = detected_stacks(source)
    choices = [questionary.Choice(stack, stack, checked=stack in found) for stack in STACKS]
    chosen: list[str] = questionary.checkbox(
        f"Write a default {IGNORE_NAME} into it, leaving out what these stacks rebuild "
        "(space toggles, Enter accepts; none: nothing written)?",
        choices=choices,
    ).unsafe_ask()
    return chosen


def _agents(answers: gen.Answers) -> None:
    question = "Add an agent?"
    while _confirm(question, default=not answers.agents):
        choices = [questionary.Choice(f"{k.title} ({k.type})", k.type) for k in CATALOGUE.values()]
        kind: str = questionary.select("Agent type:", choices=choices).unsafe_ask()
        taken = any(a.name == kind for a in answers.agents)
        name = _text(
            "Name (what you type after `agsekit run`):",
            "" if taken else kind,
            lambda v: gen.agent_name_problem(v, answers),
        )
        vm = _vm(answers, f"VM for {name}:")
        env = _text(
            "Environment variables it reads its key from (names only, comma-separated; "
            "the config gets NAME: ${NAME}):",
            gen.KEY_VARIABLES.get(kind, ""),
            gen.env_problem,
        )
        answers.agents.append(gen.AgentAnswer(name, kind, vm, gen.env_names(env)))
        question = "Add another agent?"


def _vm(answers: gen.Answers, question: str) -> str:
    names = [vm.name for vm in answers.vms]
    if len(names) == 1:
        return names[0]
    chosen: str = questionary.select(question, choices=names).unsafe_ask()
    return chosen


def _text(
    message: str,
    default: str,
    check: Callable[[str], str | None],
    *,
    path_prompt: bool = False,
) -> str:
    def validate(value: str) -> bool | str:
        return check(value.strip()) or True

    options: dict[str, Any] = {"default": default, "validate": validate}
    if path_prompt:
        prompt = questionary.path(message, only_directories=True, **options)
    else:
        prompt = questionary.text(message, **options)
    answer: str = prompt.unsafe_ask()
    return answer.strip()


def _confirm(message: str, *, default: bool) -> bool:
    answer: bool = questionary.confirm(message, default=default).unsafe_ask()
    return answer
