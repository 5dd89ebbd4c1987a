"""addmount --mount-now and removemount against the Multipass double: the folder appears
in the VM at once, and is unmounted before its entry goes; the host folder and its
snapshots stay."""

from __future__ import annotations

import json
from pathlib import Path

from tests.vm.conftest import Multipass, agsekit


def _mounts(mp: Multipass, config: Path) -> list[dict[str, object]]:
    result = agsekit(mp.env, "status", "--json", "--config", str(config))
    assert result.returncode == 0, result.stderr
    vm = json.loads(result.stdout)["vms"][0]
    mounts: list[dict[str, object]] = vm["mounts"]
    return mounts


def test_mount_now_then_removemount_unmounts_first(
    multipass: Multipass, workdir: Path, tmp_path: Path
) -> None:
    vm = multipass.new_name()
    project = workdir / "proj"
    project.mkdir(parents=True)
    (project / "code.py").write_text("print('hi')\n")
    config = tmp_path / "config.yaml"
    config.write_text(f"vms:\n  {vm}:  # the only VM\n    cpu: 1\n    ram: 512M\n    disk: 3G\n")
    original = config.read_bytes()
    assert agsekit(multipass.env, "create-vms", "--config", str(config)).returncode == 0

    added = agsekit(
        multipass.env, "addmount", str(project), "--target", "/home/ubuntu/p", "--mount-now",
        "-y", "--config", str(config),
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert f"mounted {project} at {vm}:/home/ubuntu/p" in added.stderr
    seen = multipass.ok("exec", "-n", vm, "--", "cat", "/home/ubuntu/p/code.py")
    assert seen == "print('hi')\n"
    assert [m["active"] for m in _mounts(multipass, config)] == [True]
    store = workdir / "backups-proj"
    (store / "20261201T000000Z").mkdir(parents=True)

    removed = agsekit(multipass.env, "removemount", "-y", "--config", str(config), cwd=project)
    assert removed.returncode == 0, removed.stderr
    assert f"unmounted {project} from {vm}:/home/ubuntu/p" in removed.stderr
    assert f"the folder {project} and its snapshots in {store} stay as they were" in removed.stderr
    gone = multipass.run("exec", "-n", vm, "--", "cat", "/home/ubuntu/p/code.py")
    assert gone.returncode != 0
    assert _mounts(multipass, config) == []
    assert (project / "code.py").read_text() == "print('hi')\n"
    assert (store / "20261201T000000Z").is_dir()
    assert config.read_bytes() == original + b"mounts: []\n"
