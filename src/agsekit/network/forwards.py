"""Keep one VM's forwards up: one `ssh -N` with every -L and -R, started again with a
growing pause whenever it exits (the VM stopped or restarted, its address changed, a
port was taken), the VM's address asked from the VM manager each time.

ssh runs with -v: it says on stderr when the local listeners are bound ("Entering
interactive session.") and when the VM accepted every remote one ("all expected
forwarding replies received"); with ExitOnForwardFailure a forward that cannot be made
ends it. The lines that are not debug output are its errors, shown as the reason.
"""

from __future__ import annotations

import collections
import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import IO

from agsekit.config.model import Forward
from agsekit.core.errors import AgsekitError
from agsekit.network import forwardstate, ports, sshaccess
from agsekit.network.forwardstate import ForwardingState
from agsekit.service.state import utc_text
from agsekit.tools import ssh
from agsekit.tools.runner import CHILDREN, stop_group, trace
from agsekit.vm.backend import VmBackend

FIRST_PAUSE = 1.0
LONGEST_PAUSE = 30.0
BOUND = "Entering interactive session."
ACCEPTED = "all expected forwarding replies received"
_NOISE = (
    "debug",
    "Transferred:",
    "Bytes per second:",
    "OpenSSH_",
    "Authenticated to",
    "Warning: Permanently added",  # the host key pinned on first contact
)

Say = Callable[[str], None]


class VmForwarder:
    def __init__(
        self, vm: str, forwards: Sequence[Forward], backend: VmBackend, say: Say, keeper: str
    ) -> None:
        self.vm = vm
        self.forwards = tuple(forwards)
        self.backend = backend
        self.say = say
        self.state = ForwardingState(
            vm, os.getpid(), keeper, [f.describe() for f in self.forwards], since=utc_text()
        )
        self._remote = sum(1 for f in self.forwards if f.type != "local")
        forwardstate.write_state(self.state)  # connecting

    def run(self, stop: threading.Event) -> None:
        """Until stop is set; the caller holds the VM's runner lock."""
        pause = FIRST_PAUSE
        try:
            while not stop.is_set():
                if self._session(stop):
                    pause = FIRST_PAUSE
                if stop.is_set():
                    break
                self.say(f"{self.vm}: trying again in {pause:g} s")
                if stop.wait(pause):
                    break
                pause = min(pause * 2, LONGEST_PAUSE)
        finally:
            forwardstate.remove_state(self.vm)

    def _session(self, stop: threading.Event) -> bool:
        """One ssh: True when its forwards were up at some point."""
        try:
            identity, destination = sshaccess.prepare(self.backend, self.vm)
            for forward in self.forwards:
                if forward.host_addr is not None and forward.listens_on_host:
                    ports.check_free(forward.host_addr)
            argv = ssh.forward_argv(identity, destination, self.forwards)
        except AgsekitError as exc:
            self._down(exc.message + (f" ({exc.hint})" if exc.hint else ""))
            return False
        except OSError as exc:  # never a silent stop: said, and tried again
            self._down(f"cannot start ssh: {exc.strerror or exc}")
            return False
        self.state.address = f"{destination.host}:{destination.port}"
        try:
            return self._watch(argv, stop)
        except OSError as exc:
            self._down(f"cannot run ssh: {exc.strerror or exc}")
            return False

    def _watch(self, argv: list[str], stop: threading.Event) -> bool:
        trace(argv)
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a Ctrl+C reaches agsekit, which stops ssh itself
        )
        CHILDREN.add(proc)
        self.state.ssh_pid = proc.pid  # ended by the next runner should this one be killed
        forwardstate.write_state(self.state)
        words: collections.deque[str] = collections.deque(maxlen=3)
        was_up = threading.Event()
        reader = threading.Thread(target=self._read, args=(proc.stderr, words, was_up), daemon=True)
        reader.start()
        try:
            while proc.poll() is None:
                if stop.wait(0.2):
                    stop_group(proc)
        finally:
            CHILDREN.discard(proc)
        reader.join(timeout=5)
        self.state.ssh_pid = None
        if not stop.is_set():
            said = " / ".join(words) or "no message"
            self._down(f"ssh to the VM ended (exit {proc.returncode}): {said}")
        return was_up.is_set()

    def _read(
        self, stream: IO[bytes] | None, words: collections.deque[str], up: threading.Event
    ) -> None:
        bound = accepted = False
        for raw in stream or ():
            line = raw.decode("utf-8", "replace").strip()
            bound = bound or line.endswith(BOUND)
            accepted = accepted or line.endswith(ACCEPTED)
            if bound and (accepted or not self._remote) and not up.is_set():
                up.set()
                self._up()
            if line and not line.startswith(_NOISE):
                words.append(line)

    def _up(self) -> None:
        self._set(up=True, error=None)
        self.say(f"{self.vm}: forwards up through {self.state.address}")

    def _down(self, reason: str) -> None:
        self._set(up=False, error=reason)
        self.say(f"{self.vm}: forwards DOWN: {reason}")

    def _set(self, *, up: bool, error: str | None) -> None:
        if up != self.state.up:
            self.state.since = utc_text()
        self.state.up = up
        self.state.error = error
        forwardstate.write_state(self.state)


class Forwarding:
    """Forwarders of several VMs, one thread each. apply() takes a new config: VMs whose
    forwards did not change keep their ssh; the others are stopped or started."""

    def __init__(self, backend: VmBackend, say: Say, keeper: str) -> None:
        self.backend = backend
        self.say = say
        self.keeper = keeper
        self._running: dict[str, tuple[tuple[Forward, ...], threading.Event, threading.Thread]] = {}

    def apply(self, wanted: dict[str, tuple[Forward, ...]]) -> None:
        wanted = {vm: forwards for vm, forwards in wanted.items() if forwards}
        gone = [vm for vm, item in self._running.items() if wanted.get(vm) != item[0]]
        self._stop(gone)
        for vm, forwards in wanted.items():
            if vm not in self._running:
                self._start(vm, forwards)

    def stop(self) -> None:
        self._stop(list(self._running))

    def _start(self, vm: str, forwards: tuple[Forward, ...]) -> None:
        stop = threading.Event()
        thread = threading.Thread(
            target=self._keep, args=(vm, forwards, stop), name=f"forwards {vm}", daemon=True
        )
        self._running[vm] = (forwards, stop, thread)
        thread.start()

    def _keep(self, vm: str, forwards: tuple[Forward, ...], stop: threading.Event) -> None:
        """Run the VM's forwarder once its lock is free (another agsekit may hold it)."""
        told = False
        while not stop.is_set():
            try:
                with forwardstate.runner_lock(vm):
                    VmForwarder(vm, forwards, self.backend, self.say, self.keeper).run(stop)
                return
            except forwardstate.Busy as exc:
                if not told:
                    self.say(f"{exc.message}; waiting until it stops")
                    told = True
            stop.wait(LONGEST_PAUSE / 6)

    def _stop(self, vms: list[str]) -> None:
        stopping = [self._running.pop(vm) for vm in vms if vm in self._running]
        for _, stop, _ in stopping:
            stop.set()
        for _, _, thread in stopping:
            thread.join(timeout=30)
