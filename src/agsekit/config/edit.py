"""A change to the config file: checked before it is written, undoable after.

A change is planned as the file's old and new text. The new text must pass the same
validation as any config (load.parse_config), or nothing is written. Writing first keeps
the old file beside it as `config.yaml.YYYYMMDDTHHMMSSZ.bak` (UTC, never overwritten), then
replaces the file crash-safely: a temporary file in the same folder, flushed to disk, its
mode set to the old file's, renamed over it. A config that is a symlink is edited where
it points, so the link stays.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from agsekit.config.load import parse_config
from agsekit.config.model import Config
from agsekit.core.errors import AgsekitError, ConfigError

NEW_FILE_MODE = 0o600  # a config can hold proxy passwords


@dataclass(frozen=True)
class Edit:
    path: Path
    old_text: str | None  # None: there is no file yet
    new_text: str
    config: Config  # the new text, validated

    @property
    def diff(self) -> str:
        """The change as a unified diff (empty when nothing changes)."""
        old = [] if self.old_text is None else self.old_text.splitlines(keepends=True)
        new = self.new_text.splitlines(keepends=True)
        lines = difflib.unified_diff(
            old,
            new,
            fromfile="/dev/null" if self.old_text is None else str(self.path),
            tofile=str(self.path),
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def read_config_text(path: Path) -> str | None:
    """The file's text, or None when there is none."""
    try:
        return real_path(path).read_bytes().decode("utf-8")  # \r\n kept as it is
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc}") from None


def plan_edit(path: Path, old_text: str | None, new_text: str) -> Edit:
    """The edit, once the new text validates; a ConfigError listing its problems if not."""
    try:
        config = parse_config(new_text, path)
    except ConfigError as exc:
        raise ConfigError(
            f"the change would make {path} invalid, so nothing was written "
            "(line numbers are those of the changed file)",
            problems=exc.problems or [exc.message],
        ) from None
    return Edit(path, old_text, new_text, config)


def write_edit(edit: Edit) -> Path | None:
    """Write the edit; returns the .bak that holds the old file (None for a new file)."""
    target = real_path(edit.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    mode = NEW_FILE_MODE
    if edit.old_text is not None:
        mode = _unchanged_since(target, edit.old_text)
        backup = _save_backup(target, edit.old_text.encode("utf-8"), mode)
    _replace(target, edit.new_text.encode("utf-8"), mode, new=edit.old_text is None)
    return backup


def real_path(path: Path) -> Path:
    return Path(os.path.realpath(path))


def backup_name(path: Path, now: datetime | None = None, attempt: int = 0) -> Path:
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    suffix = f"-{attempt}" if attempt else ""
    return path.with_name(f"{path.name}.{stamp}{suffix}.bak")


def _unchanged_since(target: Path, old_text: str) -> int:
    """The file's mode; an error when it changed since the edit was planned."""
    try:
        with open(target, "rb") as fh:
            current = fh.read()
            mode = os.fstat(fh.fileno()).st_mode & 0o7777
    except FileNotFoundError:
        current, mode = b"", NEW_FILE_MODE
    if current != old_text.encode("utf-8"):
        raise AgsekitError(
            f"{target} changed while this edit was being made; nothing was written",
            hint="run the command again",
        )
    return mode


def _save_backup(target: Path, data: bytes, mode: int) -> Path:
    now = datetime.now(timezone.utc)
    for attempt in range(1000):
        candidate = backup_name(target, now, attempt)
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            continue
        try:
            os.fchmod(fd, mode)
            _write_all(fd, data)
        finally:
            os.close(fd)
        return candidate
    raise AgsekitError(f"cannot find a free name for the backup of {target}")


def _replace(target: Path, data: bytes, mode: int, *, new: bool) -> None:
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        try:
            os.fchmod(fd, mode)
            _write_all(fd, data)
        finally:
            os.close(fd)
        if new:
            os.link(temp, target)  # never over a file that appeared meanwhile
            os.unlink(temp)
        else:
            os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
