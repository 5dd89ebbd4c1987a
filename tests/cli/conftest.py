"""The VM tests' Multipass double, for the CLI tests that need a VM."""

from __future__ import annotations

from tests.vm.conftest import multipass, multipass_env, workdir

__all__ = ["multipass", "multipass_env", "workdir"]
