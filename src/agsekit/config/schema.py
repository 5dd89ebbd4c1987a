"""The YAML's shape as pydantic models: strict types, unknown keys rejected.

These models check each value on its own (the string checks are in checks.py); defaults that
depend on other keys and checks across keys live in load.py, mounts.py and backups.py,
which turn these into the frozen types of model.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
)

from agsekit.config import checks
from agsekit.config.model import AGENT_TYPES, IgnoreFiles
from agsekit.config.sizes import MAX_DISK, MAX_MEMORY, MIN_DISK, MIN_MEMORY, parse_size
from agsekit.core import proxyurl
from agsekit.core.durations import parse_duration

# Names are the keys of mappings, checked as keys: pydantic reports a bad one at its own key
# path, so the message names the key's line.
VmName = Annotated[StrictStr, AfterValidator(checks.vm_name)]
AgentName = Annotated[StrictStr, AfterValidator(checks.agent_name)]
EnvName = Annotated[StrictStr, AfterValidator(checks.env_name)]

HostPath = Annotated[StrictStr, AfterValidator(checks.host_path)]
VmPath = Annotated[StrictStr, AfterValidator(checks.vm_path)]
NoNul = Annotated[StrictStr, AfterValidator(checks.no_nul)]
Version = Annotated[StrictStr, AfterValidator(checks.version)]
BundleItem = Annotated[str, PlainValidator(checks.bundle)]
ExcludePattern = Annotated[StrictStr, AfterValidator(checks.exclude_pattern)]
Reserve = Annotated[str, PlainValidator(checks.reserve)]
Debounce = Annotated[str, PlainValidator(checks.timing("debounce"))]
MaxDelay = Annotated[str, PlainValidator(checks.timing("max_delay"))]
MinInterval = Annotated[str, PlainValidator(checks.timing("min_interval"))]
HttpProxy = Annotated[StrictStr, AfterValidator(checks.proxy_url(proxyurl.HTTP_SCHEMES))]
ChainsProxy = Annotated[StrictStr, AfterValidator(checks.proxy_url(proxyurl.CHAINS_SCHEMES))]
ForwardAddress = Annotated[StrictStr, AfterValidator(checks.address)]
AllowEntry = Annotated[StrictStr, AfterValidator(checks.allow_entry)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# The most vCPUs a Linux KVM host can be built to give one VM; more is a typing mistake.
MAX_CPU = 4096
MAX_INTERVAL_MINUTES = 7 * 24 * 60
# The kernel never allows more inotify watches than this (fs.inotify.max_user_watches is an int).
MAX_WATCH_BUDGET = 2**31 - 1

# Real numbers only: no booleans (`true` is not 1) and no strings ("5" is not 5).
Minutes = Annotated[float, Strict(), Field(gt=0, le=MAX_INTERVAL_MINUTES, allow_inf_nan=False)]
Fraction = Annotated[float, Strict(), Field(gt=0, le=1, allow_inf_nan=False)]


def check_size(value: str, minimum: int, maximum: int, what: str) -> str:
    size = parse_size(value)
    if size < minimum:
        raise ValueError(f"{what} below Multipass' minimum of {minimum // 1024**2}M")
    if size > maximum:
        raise ValueError(
            f"{what} above the maximum of {maximum // 1024**3}G ({maximum // 1024**4} TiB)"
        )
    return value


class ForwardModel(StrictModel):
    type: Literal["local", "remote", "socks5"]
    host_addr: ForwardAddress | None = Field(default=None, alias="host-addr")
    vm_addr: ForwardAddress | None = Field(default=None, alias="vm-addr")


class NetworkModel(StrictModel):
    """`network:` of a VM or an agent; None: not set at this level."""

    mode: Literal["open", "allowlist"] | None = None
    allow: list[AllowEntry] | None = None
    block_host_and_lan: StrictBool | None = None


class VmModel(StrictModel):
    cpu: StrictInt = Field(default=2, ge=1, le=MAX_CPU)
    ram: StrictStr = "4G"
    disk: StrictStr = "20G"
    cloud_init: dict[str, Any] = Field(default_factory=dict, alias="cloud-init")
    http_proxy: HttpProxy | None = None
    proxychains: ChainsProxy | None = None
    allowed_agents: list[AgentName] | None = None
    port_forwarding: list[ForwardModel] = Field(default_factory=list, alias="port-forwarding")
    install: list[BundleItem] = Field(default_factory=list)
    network: NetworkModel | None = None

    @field_validator("ram")
    @classmethod
    def _ram(cls, value: str) -> str:
        return check_size(value, MIN_MEMORY, MAX_MEMORY, "memory")

    @field_validator("disk")
    @classmethod
    def _disk(cls, value: str) -> str:
        return check_size(value, MIN_DISK, MAX_DISK, "disk")


class RetentionModel(StrictModel):
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


class AlarmModel(StrictModel):
    enabled: StrictBool = True
    deleted_fraction: Fraction = 0.5
    deleted_files: StrictInt = Field(default=1000, ge=1)


class MountModel(StrictModel):
    source: HostPath
    target: VmPath | None = None
    backup: HostPath | None = None
    interval: Minutes = 5
    vm: StrictStr | None = None
    retention: RetentionModel | None = None
    exclude: list[ExcludePattern] = Field(default_factory=list)
    ignore_files: IgnoreFiles | None = None
    reserve: Reserve | None = None
    debounce: Debounce | None = None
    max_delay: MaxDelay | None = None
    min_interval: MinInterval | None = None
    allowed_agents: list[AgentName] | None = None


class EndpointModel(StrictModel):
    base_url: Annotated[StrictStr, AfterValidator(checks.endpoint_url)]
    model: Annotated[StrictStr, AfterValidator(checks.model_name)]
    api_key: Annotated[StrictStr, AfterValidator(checks.key_reference)] | None = None


class AgentModel(StrictModel):
    type: StrictStr
    vm: StrictStr | None = None
    version: Version | None = None
    default_args: list[NoNul] = Field(default_factory=list)
    env: dict[EnvName, NoNul] = Field(default_factory=dict)
    isolation: Literal["user", "none"] = "user"
    http_proxy: HttpProxy | None = None
    proxychains: ChainsProxy | None = None
    model: EndpointModel | None = None
    network: NetworkModel | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in AGENT_TYPES:
            raise ValueError(f"unknown agent type; known types: {', '.join(AGENT_TYPES)}")
        return value


class ConfigModel(StrictModel):
    vms: dict[VmName, VmModel] = Field(default_factory=dict)
    mounts: list[MountModel] = Field(default_factory=list)
    retention: RetentionModel = Field(default_factory=RetentionModel)
    alarm: AlarmModel = Field(default_factory=AlarmModel)
    agents: dict[AgentName, AgentModel] = Field(default_factory=dict)
    ignore_files: IgnoreFiles = "both"
    reserve: Reserve = "5%"
    debounce: Debounce = "10s"
    max_delay: MaxDelay = "60s"
    min_interval: MinInterval = "30s"
    watch_budget: StrictInt | None = Field(default=None, ge=1, le=MAX_WATCH_BUDGET)
