"""Command-line parsing and the verbs, with Multipass 1.16's texts and exit codes."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

from . import VERSION, guest
from .sandbox import GUEST_HOME, run_command, run_shell
from .state import (
    MIN_DISK,
    MIN_MEMORY,
    NAME_RE,
    Instance,
    human_size,
    ipv4_of,
    locked_state,
    parse_size,
    switch,
)

OK = 0
CLIENT_ERROR = 1
DAEMON_ERROR = 2
MAP_RE = re.compile(r"^[0-9]+:[0-9]+$")
FORBIDDEN_TARGETS = ("/", "/dev", "/proc", "/sys", "/home", "/home/ubuntu")
RELEASE = "Ubuntu 24.04.1 LTS"
SPINNER = "\r\x1b[2K\x1b[0m"


class Failure(Exception):
    def __init__(self, text: str, code: int = DAEMON_ERROR) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


class Parser(argparse.ArgumentParser):
    """Client-side validation errors exit 1, as in Multipass."""

    def error(self, message: str) -> NoReturn:
        raise Failure(f"Error: {message}", CLIENT_ERROR)


def main(argv: list[str]) -> int:
    try:
        return dispatch(argv)
    except Failure as failure:
        sys.stderr.write(failure.text.rstrip("\n") + "\n")
        return failure.code


def dispatch(argv: list[str]) -> int:
    if not argv:
        raise Failure("Error: a command is required", CLIENT_ERROR)
    verb, rest = argv[0], argv[1:]
    handler = VERBS.get(verb)
    if handler is None:
        raise Failure(f"Error: Unknown command '{verb}'", CLIENT_ERROR)
    if verb != "version":
        check_daemon(verb)
    return handler(rest)


def check_daemon(verb: str) -> None:
    if switch("daemon-down"):
        raise Failure(f"{verb} failed: cannot connect to the multipass socket")
    if switch("access-denied"):
        raise Failure(f"{verb} failed: multipass socket access denied")


def dump(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=4, sort_keys=True) + "\n")


def many_errors(verb: str, problems: list[str]) -> Failure:
    return Failure(f"{verb} failed: The following errors occurred:\n" + "\n".join(problems))


def lookup(
    data: dict[str, Any], verb: str, names: list[str], *, allow_deleted: bool = False
) -> list[tuple[str, Instance]]:
    problems = []
    found = []
    for name in names:
        inst = data["instances"].get(name)
        if inst is None:
            problems.append(f'instance "{name}" does not exist')
        elif inst["state"] == "Deleted" and not allow_deleted:
            problems.append(f'instance "{name}" is deleted')
        else:
            found.append((name, inst))
    if problems:
        raise many_errors(verb, problems)
    return found


def live_names(data: dict[str, Any]) -> list[str]:
    return sorted(n for n, i in data["instances"].items() if i["state"] != "Deleted")


def boot(inst: Instance) -> None:
    """Stopped -> Running; mounts that fail to come back are dropped without a word."""
    if inst["state"] == "Running":
        return
    inst["state"] = "Running"
    if switch("drop-mounts-on-start"):
        inst["mounts"] = {}


def snap_blocks(path: str) -> bool:
    if not switch("snap-confinement"):
        return False
    real = os.path.realpath(path)
    if not real.startswith("/home/"):
        return True
    return any(part.startswith(".") for part in real[len("/home/") :].split("/"))


# ----- verbs -----------------------------------------------------------------------------


def cmd_version(args: list[str]) -> int:
    parser = Parser(prog="multipass version")
    parser.add_argument("--format", default="table", choices=["table", "json", "csv", "yaml"])
    opts = parser.parse_args(args)
    daemon_up = not switch("daemon-down") and not switch("access-denied")
    if opts.format == "json":
        dump({"multipass": VERSION, **({"multipassd": VERSION} if daemon_up else {})})
    else:
        print(f"multipass   {VERSION}")
        if daemon_up:
            print(f"multipassd  {VERSION}")
    return OK


def cmd_list(args: list[str]) -> int:
    parser = Parser(prog="multipass list")
    parser.add_argument("--format", default="table", choices=["table", "json", "csv", "yaml"])
    opts = parser.parse_args(args)
    with locked_state() as data:
        rows = [
            {
                "ipv4": [ipv4_of(n)] if i["state"] == "Running" else [],
                "name": n,
                "release": RELEASE if i["state"] != "Deleted" else "Not Available",
                "state": i["state"],
            }
            for n, i in sorted(data["instances"].items())
        ]
    if opts.format == "json":
        dump({"list": rows})
    elif not rows:
        sys.stderr.write("No instances found.\n")
    else:
        print(f"{'Name':<24}{'State':<18}{'IPv4':<17}Image")
        for row in rows:
            ip = row["ipv4"][0] if row["ipv4"] else "--"
            print(f"{row['name']:<24}{row['state']:<18}{ip:<17}{row['release']}")
    return OK


def info_entry(name: str, inst: Instance) -> dict[str, Any]:
    running = inst["state"] == "Running"
    uids, gids = guest.default_mappings()
    mounts = {
        target: {
            "gid_mappings": spec.get("gid_mappings") or gids,
            "source_path": spec["source_path"],
            "uid_mappings": spec.get("uid_mappings") or uids,
        }
        for target, spec in inst["mounts"].items()
    }
    return {
        "cpu_count": str(inst["cpus"]) if running else "",
        "disks": {"sda1": {"total": str(inst["disk"] - 400 * 1024**2), "used": str(2 * 1024**3)}}
        if running
        else {"sda1": {}},
        "image_hash": "f1e2d3c4b5a6978812345678901234567890abcdef1234567890abcdef123456",
        "image_release": "24.04 LTS",
        "ipv4": [ipv4_of(name)] if running else [],
        "load": [0.08, 0.03, 0.01] if running else [],
        "memory": {"total": inst["memory"] - 180 * 1024**2, "used": 300 * 1024**2}
        if running
        else {},
        "mounts": mounts,
        "release": RELEASE if running else "",
        "snapshot_count": "0",
        "state": inst["state"],
    }


def cmd_info(args: list[str]) -> int:
    parser = Parser(prog="multipass info")
    parser.add_argument("--format", default="table", choices=["table", "json", "csv", "yaml"])
    parser.add_argument("--all", action="store_true")
    parser.add_argument("names", nargs="*")
    opts = parser.parse_args(args)
    with locked_state() as data:
        names = opts.names or sorted(data["instances"])
        found = lookup(data, "info", names, allow_deleted=True)
        info = {name: info_entry(name, inst) for name, inst in found}
    if opts.format == "json":
        dump({"errors": [], "info": info})
    else:
        for name, entry in info.items():
            print(f"{'Name:':<16}{name}\n{'State:':<16}{entry['state']}")
    return OK


def size_arg(text: str) -> int:
    value = parse_size(text)
    if value is None:
        raise Failure(
            f"{text} is not a valid memory size - need a non-negative integer (in base 10) or a "
            "decimal followed by K, M, or G (e.g. 1234B, 42MiB, 0.5G)",
            CLIENT_ERROR,
        )
    return value


def cmd_launch(args: list[str]) -> int:
    parser = Parser(prog="multipass launch")
    parser.add_argument("-n", "--name")
    parser.add_argument("-c", "--cpus", default="1")
    parser.add_argument("-m", "--memory")
    parser.add_argument("--mem")
    parser.add_argument("-d", "--disk", default="5G")
    parser.add_argument("--cloud-init")
    parser.add_argument("--timeout", type=int, default=300)
    parser.add_argument("image", nargs="?", default="24.04")
    opts = parser.parse_args(args)
    if opts.mem is not None:
        sys.stderr.write(
            'warning: "--mem" long option will be deprecated in favour of "--memory" in a '
            "future release. Please update any scripts, etc.\n"
        )
    memory_text = opts.memory or opts.mem or "1G"
    if not opts.cpus.isdigit() or int(opts.cpus) < 1:
        raise Failure(
            f"Error: invalid CPU count '{opts.cpus}', need a positive integer value.",
            CLIENT_ERROR,
        )
    memory, disk = size_arg(memory_text), size_arg(opts.disk)
    cloud_init = read_cloud_init(opts.cloud_init)
    name = opts.name or "fake-" + os.urandom(3).hex()
    problems = []
    if not NAME_RE.match(name):
        problems.append(f"Invalid instance name supplied: {name}")
    if memory < MIN_MEMORY:
        problems.append(f"Invalid memory size value supplied: {memory_text}.")
    if disk < MIN_DISK:
        problems.append(f"Invalid disk size value supplied: {opts.disk}.")
    if problems:
        raise Failure("launch failed: Invalid arguments supplied\n" + "\n".join(problems))
    with locked_state() as data:
        if name in data["instances"]:
            raise Failure(f'launch failed: instance "{name}" already exists')
        data["instances"][name] = {
            "state": "Running",
            "cpus": int(opts.cpus),
            "memory": memory,
            "disk": disk,
            "image": opts.image,
            "cloud_init": cloud_init,
            "mounts": {},
        }
    if guest.modelled():
        guest.prepare(name)
    sys.stdout.write(f"{SPINNER}Launching {name}{SPINNER}Launched: {name}\n")
    return OK


def read_cloud_init(path: str | None) -> str | None:
    if path is None:
        return None
    if path == "-":
        return sys.stdin.read()
    if snap_blocks(path) or not Path(path).is_file():
        raise Failure("error loading cloud-init config: bad file", CLIENT_ERROR)
    return Path(path).read_text()


def names_or_all(parser: Parser, args: list[str]) -> tuple[argparse.Namespace, bool]:
    parser.add_argument("--all", action="store_true")
    parser.add_argument("names", nargs="*")
    opts = parser.parse_args(args)
    if opts.all and opts.names:
        raise Failure("Error: Cannot specify name when --all option set", CLIENT_ERROR)
    return opts, bool(opts.all)


def cmd_start(args: list[str]) -> int:
    opts, everything = names_or_all(Parser(prog="multipass start"), args)
    with locked_state() as data:
        names = live_names(data) if everything else opts.names or ["primary"]
        missing = [n for n in names if n not in data["instances"]]
        if missing:
            detail = "\n".join(f"Instance '{n}' does not exist." for n in missing)
            raise Failure(f"start failed: instance(s) missing\n{detail}")
        for _name, inst in lookup(data, "start", names):
            boot(inst)
    sys.stdout.write(SPINNER)
    return OK


def cmd_stop(args: list[str]) -> int:
    parser = Parser(prog="multipass stop")
    parser.add_argument("-f", "--force", action="store_true")
    parser.add_argument("-t", "--time", default="0")
    parser.add_argument("-c", "--cancel", action="store_true")
    opts, everything = names_or_all(parser, args)
    with locked_state() as data:
        names = live_names(data) if everything else opts.names or ["primary"]
        for stopped, inst in lookup(data, "stop", names):
            inst["state"] = "Stopped"
            guest.power_off(stopped)
    return OK


def cmd_restart(args: list[str]) -> int:
    opts, everything = names_or_all(Parser(prog="multipass restart"), args)
    with locked_state() as data:
        names = live_names(data) if everything else opts.names or ["primary"]
        for restarted, inst in lookup(data, "restart", names):
            inst["state"] = "Stopped"
            guest.power_off(restarted)
            boot(inst)
    return OK


def cmd_delete(args: list[str]) -> int:
    parser = Parser(prog="multipass delete")
    parser.add_argument("-p", "--purge", action="store_true")
    opts, everything = names_or_all(parser, args)
    with locked_state() as data:
        names = sorted(data["instances"]) if everything else opts.names
        if not names:
            raise Failure("Error: Name argument or --all is required", CLIENT_ERROR)
        for name, inst in lookup(data, "delete", names, allow_deleted=True):
            if opts.purge:
                del data["instances"][name]
                guest.forget(name)
            else:
                inst["state"] = "Deleted"
                guest.power_off(name)
    return OK


def cmd_purge(args: list[str]) -> int:
    Parser(prog="multipass purge").parse_args(args)
    with locked_state() as data:
        for name in [n for n, i in data["instances"].items() if i["state"] == "Deleted"]:
            del data["instances"][name]
            guest.forget(name)
    return OK


def cmd_recover(args: list[str]) -> int:
    opts, everything = names_or_all(Parser(prog="multipass recover"), args)
    with locked_state() as data:
        names = sorted(data["instances"]) if everything else opts.names
        for _name, inst in lookup(data, "recover", names, allow_deleted=True):
            if inst["state"] == "Deleted":
                inst["state"] = "Stopped"
    return OK


def split_spec(spec: str) -> tuple[str, str | None]:
    name, sep, target = spec.partition(":")
    return name, (target if sep else None)


def cmd_mount(args: list[str]) -> int:
    parser = Parser(prog="multipass mount")
    parser.add_argument("-t", "--type", default="classic", choices=["classic", "native"])
    parser.add_argument("-u", "--uid-map", action="append", default=[])
    parser.add_argument("-g", "--gid-map", action="append", default=[])
    parser.add_argument("source")
    parser.add_argument("targets", nargs="+")
    opts = parser.parse_args(args)
    source = os.path.abspath(opts.source)
    uid_maps = id_maps("UID", opts.uid_map, os.getuid())
    gid_maps = id_maps("GID", opts.gid_map, os.getgid())
    with locked_state() as data:
        for spec in opts.targets:
            name, target = split_spec(spec)
            inst = data["instances"].get(name)
            if inst is None or inst["state"] == "Deleted":
                word = "does not exist" if inst is None else "is deleted"
                raise Failure(f"mount failed: instance '{name}' {word}")
            if snap_blocks(source) or not Path(source).is_dir():
                raise Failure(f'mount failed: Mount source path "{source}" does not exist.')
            target = guest_path(target or f"{GUEST_HOME}/{os.path.basename(source)}")
            if target in FORBIDDEN_TARGETS or target.startswith(("/dev/", "/proc/", "/sys/")):
                raise Failure(f'mount failed: unable to mount to "{target}"')
            if target in inst["mounts"]:
                raise Failure(f"mount failed: \"{target}\" is already mounted in '{name}'")
            if opts.type == "native" and inst["state"] != "Stopped":
                raise Failure(
                    f"mount failed: Please stop the instance {name} before attempting "
                    "native mounts."
                )
            inst["mounts"][target] = {
                "source_path": source,
                "uid_mappings": uid_maps,
                "gid_mappings": gid_maps,
            }
    return OK


def id_maps(kind: str, given: list[str], own: int) -> list[str]:
    """`-u HOST:INSTANCE` (numbers only, one-to-one); without any, own id -> default."""
    if not given:
        return [f"{own}:default"]
    for text in given:
        if not MAP_RE.match(text):
            raise Failure(f"Invalid {kind} map given: {text}", CLIENT_ERROR)
    pairs = [tuple(text.split(":")) for text in given]
    hosts = [h for h, _ in pairs]
    instances = [i for _, i in pairs]
    repeated = {h for h in hosts if hosts.count(h) > 1} | {
        i for i in instances if instances.count(i) > 1
    }
    if repeated:
        listed = "; ".join(
            f"{d}: [{', '.join(f'{h}:{i}' for h, i in pairs if d in (h, i))}]"
            for d in sorted(repeated)
        )
        raise Failure(
            "mount failed: Mount cannot apply mapping with duplicate ids:\n"
            f"{kind.lower()}s: {listed}"
        )
    return list(given)


def guest_path(target: str) -> str:
    path = target if target.startswith("/") else f"{GUEST_HOME}/{target}"
    return os.path.normpath(path)


def cmd_umount(args: list[str]) -> int:
    parser = Parser(prog="multipass umount")
    parser.add_argument("specs", nargs="+")
    opts = parser.parse_args(args)
    with locked_state() as data:
        for spec in opts.specs:
            name, target = split_spec(spec)
            inst = data["instances"].get(name)
            if inst is None:
                raise Failure(f"umount failed: instance '{name}' does not exist")
            if target is None:
                inst["mounts"] = {}
                continue
            path = guest_path(target)
            if path not in inst["mounts"]:
                raise Failure(f"umount failed: path \"{path}\" is not mounted in '{name}'")
            del inst["mounts"][path]
    return OK


def exec_instance(verb: str, name: str) -> Instance:
    with locked_state() as data:
        inst = data["instances"].get(name)
        if inst is None:
            raise Failure(f'{verb} failed: instance "{name}" does not exist')
        if inst["state"] == "Deleted":
            raise Failure(f'{verb} failed: instance "{name}" is deleted')
        boot(inst)  # exec and shell start a stopped instance
        return dict(inst)


def mapped_cwd(inst: Instance) -> str:
    """Without -d/-n, a host cwd inside a mount source becomes the matching guest path."""
    cwd = os.path.realpath(os.getcwd())
    for target, spec in inst["mounts"].items():
        source = os.path.realpath(spec["source_path"])
        if cwd == source or cwd.startswith(source + "/"):
            return str(target) + cwd[len(source) :]
    return GUEST_HOME


def cmd_exec(args: list[str]) -> int:
    parser = Parser(prog="multipass exec")
    parser.add_argument("-d", "--working-directory")
    parser.add_argument("-n", "--no-map-working-directory", action="store_true")
    parser.add_argument("name")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    opts = parser.parse_args(args)
    command = opts.command[1:] if opts.command[:1] == ["--"] else opts.command
    if not command:
        raise Failure("Error: Wrong number of arguments", CLIENT_ERROR)
    if opts.working_directory and opts.no_map_working_directory:
        raise Failure(
            "Error: Option --working-directory is incompatible with --no-map-working-directory",
            CLIENT_ERROR,
        )
    inst = exec_instance("exec", opts.name)
    if opts.working_directory:
        workdir = opts.working_directory
    elif opts.no_map_working_directory:
        workdir = GUEST_HOME
    else:
        workdir = mapped_cwd(inst)
    return run_command(opts.name, inst, command, workdir)


def cmd_shell(args: list[str]) -> int:
    parser = Parser(prog="multipass shell")
    parser.add_argument("name", nargs="?", default="primary")
    opts = parser.parse_args(args)
    run_shell(opts.name, exec_instance("shell", opts.name))
    return OK  # Multipass 1.16 exits 0 whatever the shell returned


def settings_target(verb: str, key: str, data: dict[str, Any]) -> tuple[str, str, Instance]:
    parts = key.split(".")
    if len(parts) != 3 or parts[0] != "local" or parts[2] not in ("cpus", "memory", "disk"):
        raise Failure(f"Unrecognized settings key: '{key}'", CLIENT_ERROR)
    name, field = parts[1], parts[2]
    operation = "obtain" if verb == "get" else "update"
    inst = data["instances"].get(name)
    if inst is None or inst["state"] == "Deleted":
        reason = "No such instance" if inst is None else "Instance is deleted"
        raise Failure(
            f"{verb} failed: Cannot {operation} instance settings; instance: {name}; "
            f"reason: {reason}"
        )
    return name, field, inst


def cmd_get(args: list[str]) -> int:
    parser = Parser(prog="multipass get")
    parser.add_argument("key")
    opts = parser.parse_args(args)
    with locked_state() as data:
        _name, field, inst = settings_target("get", opts.key, data)
    print(str(inst["cpus"]) if field == "cpus" else human_size(inst[field]))
    return OK


def cmd_set(args: list[str]) -> int:
    parser = Parser(prog="multipass set")
    parser.add_argument("assignment")
    opts = parser.parse_args(args)
    key, sep, value = opts.assignment.partition("=")
    if not sep:
        raise Failure("Error: Bad key-value format: expected KEY=VALUE", CLIENT_ERROR)
    with locked_state() as data:
        name, field, inst = settings_target("set", key, data)
        if inst["state"] != "Stopped":
            raise Failure(
                f"set failed: Cannot update instance settings; instance: {name}; "
                "reason: Instance must be stopped for modification"
            )
        inst[field] = setting_value(opts.assignment, field, value, inst)
    return OK


def setting_value(assignment: str, field: str, value: str, inst: Instance) -> int:
    def invalid(why: str) -> Failure:
        return Failure(f"set failed: Invalid setting '{assignment}': {why}")

    if field == "cpus":
        if not value.isdigit() or int(value) < 1:
            raise invalid("Need a positive number (in decimal format)")
        return int(value)
    size = parse_size(value)
    if size is None:
        raise invalid("Invalid memory size")
    if field == "disk" and size < inst["disk"]:
        raise invalid("Disk can only be expanded")
    if field == "memory" and size < MIN_MEMORY:
        raise invalid(f"Memory less than minimum allowed: {human_size(MIN_MEMORY)}")
    return size


VERBS = {
    "version": cmd_version,
    "list": cmd_list,
    "ls": cmd_list,
    "info": cmd_info,
    "launch": cmd_launch,
    "start": cmd_start,
    "stop": cmd_stop,
    "restart": cmd_restart,
    "delete": cmd_delete,
    "purge": cmd_purge,
    "recover": cmd_recover,
    "mount": cmd_mount,
    "umount": cmd_umount,
    "unmount": cmd_umount,
    "exec": cmd_exec,
    "shell": cmd_shell,
    "sh": cmd_shell,
    "get": cmd_get,
    "set": cmd_set,
}
