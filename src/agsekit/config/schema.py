"""The YAML's shape as pydantic models: strict types, unknown keys rejected.

These models only check the shape of each value; defaults that depend on other keys and
checks across keys live in load.py, which turns these into the frozen types of model.py.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

from agsekit.config.model import AGENT_TYPES
from agsekit.config.sizes import MIN_DISK, MIN_MEMORY, parse_size
from agsekit.core.durations import parse_duration

VM_NAME = re.compile(r"^[a-zA-Z]([a-zA-Z0-9-]*[a-zA-Z0-9])?$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_size(value: str, minimum: int, what: str) -> str:
    size = parse_size(value)
    if size < minimum:
        raise ValueError(f"{what} below Multipass' minimum of {minimum // 1024**2}M")
    return value


class VmModel(Strict):
    cpu: StrictInt = Field(default=2, ge=1)
    ram: StrictStr = "4G"
    disk: StrictStr = "20G"
    cloud_init: dict[str, Any] = Field(default_factory=dict, alias="cloud-init")

    @field_validator("ram")
    @classmethod
    def _ram(cls, value: str) -> str:
        return _check_size(value, MIN_MEMORY, "memory")

    @field_validator("disk")
    @classmethod
    def _disk(cls, value: str) -> str:
        return _check_size(value, MIN_DISK, "disk")


class RetentionModel(Strict):
    keep_within: StrictStr | None = None
    keep_hourly: StrictInt | None = Field(default=None, ge=0)
    keep_daily: StrictInt | None = Field(default=None, ge=0)
    keep_weekly: StrictInt | None = Field(default=None, ge=0)
    keep_monthly: StrictInt | None = Field(default=None, ge=0)

    @field_validator("keep_within")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class AlarmModel(Strict):
    enabled: StrictBool = True
    deleted_fraction: float = Field(default=0.5, gt=0, le=1)
    deleted_files: StrictInt = Field(default=1000, ge=1)


class MountModel(Strict):
    source: StrictStr
    target: StrictStr | None = None
    backup: StrictStr | None = None
    interval: float = Field(default=5, gt=0)
    vm: StrictStr | None = None
    retention: RetentionModel | None = None

    @field_validator("target")
    @classmethod
    def _absolute_target(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("must be an absolute path inside the VM, e.g. /home/ubuntu/project")
        return value


class AgentModel(Strict):
    type: StrictStr
    vm: StrictStr | None = None
    version: StrictStr | None = None
    default_args: list[StrictStr] = Field(default_factory=list)
    env: dict[str, StrictStr] = Field(default_factory=dict)
    isolation: Literal["user", "none"] = "user"

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in AGENT_TYPES:
            raise ValueError(f"unknown agent type; known types: {', '.join(AGENT_TYPES)}")
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid environment variable name")
        return value


class ConfigModel(Strict):
    vms: dict[str, VmModel] = Field(default_factory=dict)
    mounts: list[MountModel] = Field(default_factory=list)
    retention: RetentionModel = Field(default_factory=RetentionModel)
    alarm: AlarmModel = Field(default_factory=AlarmModel)
    agents: dict[str, AgentModel] = Field(default_factory=dict)

    @field_validator("vms")
    @classmethod
    def _vm_names(cls, value: dict[str, VmModel]) -> dict[str, VmModel]:
        for name in value:
            if not VM_NAME.match(name):
                raise ValueError(
                    f"{name!r} is not a valid VM name: letters, digits and '-', "
                    "starting with a letter"
                )
        return value
