"""allowed_agents on VMs and mounts: run refuses an agent a rule leaves out, names the
rule, and neither a nested mount nor another folder mounted in the VM gets around it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tests.agents.conftest import Setup

AGENTS = "agents:\n  claude:\n    type: claude\n  codex:\n    type: codex\n"


def write_config(
    two: Setup, vm_rule: str = "", mounts: Sequence[tuple[Path, str, str]] = ()
) -> None:
    """mounts: (source, target, extra lines); the project's own mount comes first."""
    entries = [(two.project, "/home/ubuntu/project", ""), *mounts]
    text = f"vms:\n  {two.vm}:\n    cpu: 1\n    ram: 512M\n    disk: 3G\n{vm_rule}mounts:\n"
    for index, (source, target, extra) in enumerate(entries):
        backup = two.backups if index == 0 else two.backups.parent / f"store-{index}"
        text += f"  - source: {source}\n    target: {target}\n    backup: {backup}\n{extra}"
    two.config.write_text(text + AGENTS)


def refused(two: Setup, agent: str, cwd: Path | None = None) -> str:
    result = two.run("run", agent, "exit", "0", cwd=cwd)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def runs(two: Setup, agent: str, cwd: Path | None = None) -> None:
    result = two.run("run", "--auto-mount", agent, "exit", "0", cwd=cwd)
    assert result.returncode == 0, result.stderr


def test_the_vms_rule(two: Setup) -> None:
    write_config(two, vm_rule="    allowed_agents: [claude]\n")
    err = refused(two, "codex")
    assert f"codex may not run in the VM {two.vm}: its allowed_agents is [claude]" in err
    assert not two.backups.exists() or not any(two.backups.iterdir())  # refused up front
    runs(two, "claude")


def test_the_mounts_rule(two: Setup) -> None:
    write_config(two)
    text = two.config.read_text().replace(
        "    backup:", "    allowed_agents: [claude]\n    backup:", 1
    )
    two.config.write_text(text)
    err = refused(two, "codex")
    assert f"codex may not work on {two.project} (allowed_agents: [claude])" in err
    runs(two, "claude")


def test_a_nested_mount_does_not_get_around_the_outer_rule(two: Setup) -> None:
    inner = two.project / "src"
    write_config(two, mounts=[(inner, "/home/ubuntu/inner", "")])
    text = two.config.read_text().replace(
        "    backup:", "    allowed_agents: [claude]\n    backup:", 1
    )
    two.config.write_text(text)
    err = refused(two, "codex", cwd=inner)
    assert f"codex may not work on {inner}: it lies inside {two.project}" in err


def test_a_folder_holding_a_protected_mount_is_refused(two: Setup) -> None:
    inner = two.project / "src"
    write_config(two, mounts=[(inner, "/home/ubuntu/inner", "    allowed_agents: [claude]\n")])
    err = refused(two, "codex")
    assert f"codex may not work on {two.project}: it holds {inner}" in err
    runs(two, "claude")


def test_another_folder_mounted_in_the_vm_is_reachable_so_it_counts(
    two: Setup, tmp_path: Path
) -> None:
    secret = tmp_path / "secret-project"
    secret.mkdir()
    (secret / "keys.txt").write_text("only for claude\n")
    write_config(two, mounts=[(secret, "/home/ubuntu/secret", "    allowed_agents: [claude]\n")])
    assert two.run("mount", "--all").returncode == 0
    err = refused(two, "codex")
    assert f"codex may not work on {secret} (allowed_agents: [claude]), and it is mounted" in err
    assert f"agsekit umount {secret}" in err
    assert two.run("umount", str(secret)).returncode == 0
    runs(two, "codex")


def test_an_unknown_name_is_a_config_error(two: Setup) -> None:
    write_config(two, vm_rule="    allowed_agents: [claude, cladue]\n")
    result = two.run("config-check")
    assert result.returncode == 2
    assert (
        f"config.yaml:6: vms.{two.vm}.allowed_agents[1]: no agent named 'cladue' under "
        "agents: (known: claude, codex)"
    ) in result.stderr


def test_a_hand_mounted_folder_around_or_inside_a_protected_one_counts(
    two: Setup, tmp_path: Path
) -> None:
    """`multipass mount` by hand, outside the config: a folder that holds the protected one,
    or lies inside it, reaches it from inside the VM just as well; so does the protected
    folder itself when the config gives it to another VM."""
    outer = tmp_path / "outer"
    secret = outer / "secret-project"
    (secret / "deep").mkdir(parents=True)
    (secret / "keys.txt").write_text("only for claude\n")
    rule = "    allowed_agents: [claude]\n"
    for by_hand, vm_line in (
        (outer, ""),
        (secret / "deep", ""),
        (secret, "    vm: elsewhere\n"),
    ):
        write_config(two, mounts=[(secret, "/home/ubuntu/secret", rule + vm_line)])
        if vm_line:
            two.config.write_text(
                two.config.read_text().replace(
                    "mounts:\n", "  elsewhere:\n    cpu: 1\n    ram: 512M\n    disk: 3G\nmounts:\n"
                )
            )
        mounted = two.mp.run("mount", str(by_hand), f"{two.vm}:/home/ubuntu/by-hand")
        assert mounted.returncode == 0, mounted.stderr
        err = refused(two, "codex")
        assert (
            f"codex may not work on {secret} (allowed_agents: [claude]), and it is mounted" in err
        )
        assert two.mp.run("umount", f"{two.vm}:/home/ubuntu/by-hand").returncode == 0
    runs(two, "codex")
