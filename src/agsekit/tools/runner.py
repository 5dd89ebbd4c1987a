"""The one way agsekit runs a program: an argv list in, a typed result out.

No shell is ever involved. A missing program and a failing program are distinct errors
that carry the command, its exit code and its own words.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from agsekit.core.display import shell_join
from agsekit.core.errors import ToolFailedError, ToolNotFoundError

Stdin = int | IO[bytes] | IO[str] | None


@dataclass(frozen=True)
class Completed:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


_TRACE: list[bool] = []


def set_trace(on: bool) -> None:
    """--debug: say on stderr every command agsekit runs (argv only; no secret ever
    travels in an argv)."""
    _TRACE[:] = [on]


def trace(argv: Sequence[str | bytes]) -> None:
    if _TRACE and _TRACE[0]:
        with contextlib.suppress(OSError):
            sys.stderr.write(f"debug: $ {shell_join(argv)}\n")


def which(program: str) -> str | None:
    return shutil.which(program)


def require(program: str, install_hint: str) -> str:
    path = which(program)
    if path is None:
        raise ToolNotFoundError(f"{program} is not installed or not on PATH", hint=install_hint)
    return path


def run(
    argv: Sequence[str],
    *,
    input: str | None = None,
    stdin: Stdin = subprocess.DEVNULL,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    timeout: float | None = None,
    check: bool = True,
    what: str | None = None,
) -> Completed:
    """Run argv to completion, capturing text output.

    stdin defaults to /dev/null so that no child ever waits on an inherited terminal or pipe.
    With check=True a non-zero exit raises ToolFailedError whose message is the program's
    own last line of stderr, prefixed by `what` (e.g. "multipass launch").
    """
    args = [str(a) for a in argv]
    full_env = None if env is None else {**os.environ, **env}
    trace(args)
    try:
        proc = subprocess.run(
            args,
            input=input,
            stdin=None if input is not None else stdin,
            capture_output=True,
            text=True,
            errors="replace",
            env=full_env,
            cwd=cwd,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ToolNotFoundError(f"{args[0]} is not installed or not on PATH") from exc
    except subprocess.TimeoutExpired as exc:
        raise ToolFailedError(
            f"{what or args[0]} did not finish within {timeout:g} s",
            argv=args,
            returncode=-1,
        ) from exc
    result = Completed(args, proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise failure(result, what=what)
    return result


def failure(result: Completed, *, what: str | None = None) -> ToolFailedError:
    words = last_words(result.stderr) or last_words(result.stdout) or "no message"
    label = what or os.path.basename(result.argv[0])
    return ToolFailedError(
        f"{label} failed (exit {result.returncode}): {words}",
        argv=result.argv,
        returncode=result.returncode,
        stderr=result.stderr,
    )


def last_words(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " / ".join(kept[-lines:])


class ChildProcesses:
    """Long-running children that must not outlive a stopped agsekit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.add(proc)

    def discard(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(proc)

    def terminate_all(self) -> None:
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            stop_group(proc)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a child, with everything it started when it leads its own session."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:  # not a group of its own: the child alone
            try:
                os.kill(proc.pid, sig)
            except ProcessLookupError:
                return
        except PermissionError:
            return
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


CHILDREN = ChildProcesses()


def wait_registered(proc: subprocess.Popen[bytes]) -> int:
    """Wait for a child that is registered meanwhile, so that a stopping agsekit (SIGTERM,
    SIGHUP) can stop it first and then finish its own work."""
    CHILDREN.add(proc)
    try:
        return proc.wait()
    finally:
        CHILDREN.discard(proc)


@dataclass(frozen=True)
class Streamed:
    returncode: int
    stderr: str


def stream(
    argv: Sequence[str | bytes],
    on_chunk: Callable[[bytes], None],
) -> Streamed:
    """Run argv with stdin from /dev/null, handing stdout to on_chunk as it arrives.

    The child is registered so that a stopping agsekit terminates it instead of leaving it
    orphaned; stderr is collected in a temporary file (no pipe to fill up and block on)."""
    trace(argv)
    try:
        with tempfile.TemporaryFile() as err:
            # its own session: a stop reaches the child's whole process tree through us,
            # and nothing it leaves behind can keep our pipe open
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                bufsize=0,
                start_new_session=True,
            )
            CHILDREN.add(proc)
            try:
                out = proc.stdout
                while out is not None and (chunk := out.read(65536)):
                    on_chunk(chunk)
                if out is not None:
                    out.close()
                code = proc.wait()
            finally:
                if proc.poll() is None:
                    stop_group(proc)
                CHILDREN.discard(proc)
            err.seek(0)
            return Streamed(code, err.read().decode("utf-8", "replace"))
    except FileNotFoundError as exc:
        name = os.fsdecode(argv[0])
        raise ToolNotFoundError(f"{name} is not installed or not on PATH") from exc
