"""Which VM manager agsekit uses."""

from __future__ import annotations

from agsekit.vm.backend import VmBackend
from agsekit.vm.multipass_backend import MultipassBackend


def default_backend() -> VmBackend:
    return MultipassBackend()
