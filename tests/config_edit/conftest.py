"""The Multipass double's fixtures, for the edits that mount and unmount."""

from __future__ import annotations

from tests.vm.conftest import multipass, multipass_env, workdir

__all__ = ["multipass", "multipass_env", "workdir"]
