"""The agents' fixtures (a VM in the Multipass double, `bare`), for the bundles' tests."""

from __future__ import annotations

from tests.agents.conftest import bare, multipass, multipass_env

__all__ = ["bare", "multipass", "multipass_env"]
