"""An agent's `model:` (base_url, model, api_key) in the form each agent type reads.

The key travels as the agent's other secrets do (on the launcher's standard input, masked
everywhere); the base URL and the model name may appear on the agent's command line
(codex takes its provider there), so neither may hold a secret: the config refuses a URL
with a user or password.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from agsekit.config.model import ModelEndpoint

KEY_VARIABLE = "AGSEKIT_MODEL_API_KEY"
NO_KEY = "no-key"  # for servers that need none: the agents insist on some value
PROVIDER = "agsekit"


@dataclass(frozen=True)
class EndpointSetup:
    env: tuple[tuple[str, str], ...]  # values may hold ${VAR} references (the key)
    args: tuple[str, ...] = ()  # always first on the agent's command line
    default_args: tuple[str, ...] = ()  # before default_args; an option given again wins


def endpoint_setup(agent_type: str, endpoint: ModelEndpoint) -> EndpointSetup:
    key = endpoint.api_key or NO_KEY
    url, model = endpoint.base_url, endpoint.model
    if agent_type == "claude":
        env = {"ANTHROPIC_BASE_URL": url, "ANTHROPIC_MODEL": model, "ANTHROPIC_AUTH_TOKEN": key}
        return EndpointSetup(tuple(env.items()))
    if agent_type == "codex":
        provider = (
            f'{{name="{PROVIDER}", base_url={json.dumps(url)}, env_key="{KEY_VARIABLE}", '
            'wire_api="responses"}'
        )
        args = ("-c", f"model_providers.{PROVIDER}={provider}", "-c", f"model_provider={PROVIDER}")
        return EndpointSetup(((KEY_VARIABLE, key),), args, ("-m", model))
    if agent_type == "qwen":
        env = {"OPENAI_BASE_URL": url, "OPENAI_MODEL": model, "OPENAI_API_KEY": key}
        return EndpointSetup(tuple(env.items()))
    if agent_type == "opencode":
        config = _opencode_config(url, model)
        return EndpointSetup((("OPENCODE_CONFIG_CONTENT", config), (KEY_VARIABLE, key)))
    if agent_type == "aider":
        env = {"OPENAI_API_BASE": url, "OPENAI_API_KEY": key, "AIDER_MODEL": f"openai/{model}"}
        return EndpointSetup(tuple(env.items()))
    raise ValueError(f"{agent_type} agents cannot take a model endpoint")  # the config refuses


def _opencode_config(url: str, model: str) -> str:
    """A provider of opencode's own config (read from OPENCODE_CONFIG_CONTENT) that reads
    the key from the environment when it sends a request."""
    config = {
        "provider": {
            PROVIDER: {
                "npm": "@ai-sdk/openai-compatible",
                "name": PROVIDER,
                "options": {"baseURL": url, "apiKey": f"{{env:{KEY_VARIABLE}}}"},
                "models": {model: {}},
            }
        },
        "model": f"{PROVIDER}/{model}",
    }
    return json.dumps(config, separators=(",", ":"))
