"""`agsekit status`: every configured VM with its resources and mounts, and per mount its
latest snapshot and whether a repeated-snapshot loop is running."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from agsekit.config.model import Config, Forward, MountSpec
from agsekit.core.errors import AgsekitError
from agsekit.network.forwardstate import ForwardingState, read_state
from agsekit.service.state import MountState, ServiceStatus
from agsekit.snapshots.engine.names import parse_name
from agsekit.snapshots.engine.space import Usage, usage
from agsekit.snapshots.engine.store import Store
from agsekit.snapshots.history.catalog import left_out_paths
from agsekit.vm.backend import ActiveMount, Resources, VmBackend, VmStatus
from agsekit.vm.reconcile import Difference, compare_mounts, resource_differences, wanted


@dataclass(frozen=True)
class MountStatus:
    spec: MountSpec
    active: bool
    latest_snapshot: str | None
    latest_age_seconds: float | None
    loop_running: bool
    room: Usage | None = None  # the store's file system: space and inodes
    left_out: tuple[bytes, ...] = ()  # live paths the ignore rules keep out of snapshots
    problem: str | None = None  # why the store or the source could not be looked at
    service: MountState | None = None  # what the background service does for it, if it runs


@dataclass(frozen=True)
class VmReport:
    name: str
    state: str  # the manager's word, or "Absent" when the VM was never created
    wanted: Resources
    actual: VmStatus | None
    actual_resources: Resources | None
    differences: tuple[Difference, ...]
    mounts: tuple[MountStatus, ...]
    unexpected_mounts: tuple[ActiveMount, ...]
    forwards: tuple[Forward, ...] = ()
    forwarding: ForwardingState | None = None  # what the runner keeping them up says


ABSENT = "Absent"


def collect(
    config: Config,
    backend: VmBackend,
    now: datetime | None = None,
    service: ServiceStatus | None = None,
) -> list[VmReport]:
    backend.ensure_available()
    watched = {m.source: m for m in service.mounts} if service and service.running else {}
    moment = now or datetime.now(timezone.utc)
    reports = []
    for name, spec in config.vms.items():
        status = backend.status(name)
        configured = [m for m in config.mounts if m.vm == name]
        comparison = compare_mounts(configured, status.mounts if status else ())
        active = set(id(m) for m in comparison.active)
        resources = None if status is None or status.deleted else backend.resources(name)
        differences = resource_differences(spec, resources) if resources else ()
        reports.append(
            VmReport(
                name=name,
                state=status.state if status else ABSENT,
                wanted=wanted(spec),
                actual=status,
                actual_resources=resources,
                differences=differences,
                mounts=tuple(
                    _mount_status(m, id(m) in active, moment, watched.get(str(m.source)))
                    for m in configured
                ),
                unexpected_mounts=comparison.unexpected,
                forwards=spec.forwards,
                forwarding=read_state(name) if spec.forwards else None,
            )
        )
    return reports


def _mount_status(
    spec: MountSpec, active: bool, now: datetime, service: MountState | None
) -> MountStatus:
    store = Store(spec.backup)
    try:
        latest = store.latest()
        room = usage(store.dest) if store.exists() else None
        left_out = tuple(left_out_paths(store, spec.source))
    except (AgsekitError, OSError) as exc:
        text = exc.message if isinstance(exc, AgsekitError) else str(exc)
        return MountStatus(
            spec, active, None, None, store.loop_running(), problem=text, service=service
        )
    age = (now - parse_name(latest)).total_seconds() if latest else None
    return MountStatus(
        spec, active, latest, age, store.loop_running(), room, left_out, service=service
    )


def as_json(reports: list[VmReport]) -> list[dict[str, object]]:
    def resources(r: Resources | None) -> dict[str, int] | None:
        return None if r is None else {"cpu": r.cpus, "ram": r.memory, "disk": r.disk}

    return [
        {
            "name": r.name,
            "state": r.state,
            "configured": resources(r.wanted),
            "actual": resources(r.actual_resources),
            "guest": None if r.actual is None or r.actual.guest is None else vars(r.actual.guest),
            "differences": [vars(d) for d in r.differences],
            "mounts": [
                {
                    "source": str(m.spec.source),
                    "target": m.spec.target,
                    "active": m.active,
                    "backup": str(m.spec.backup),
                    "latest_snapshot": m.latest_snapshot,
                    "latest_age_seconds": m.latest_age_seconds,
                    "backup_loop_running": m.loop_running,
                    "store_free_bytes": m.room.free if m.room else None,
                    "store_total_bytes": m.room.total if m.room else None,
                    "store_free_inodes": m.room.inodes_free if m.room else None,
                    "store_total_inodes": m.room.inodes_total if m.room else None,
                    "left_out": [_text(p) for p in m.left_out],
                    "problem": m.problem,
                    "service": None if m.service is None else asdict(m.service),
                }
                for m in r.mounts
            ],
            "unexpected_mounts": [vars(m) for m in r.unexpected_mounts],
            "forwards": [f.describe() for f in r.forwards],
            "forwarding": _forwarding(r.forwarding),
        }
        for r in reports
    ]


def _forwarding(state: ForwardingState | None) -> dict[str, object] | None:
    if state is None or not state.running:
        return None
    return {k: v for k, v in asdict(state).items() if k not in ("running", "forwards")}


def _text(path: bytes) -> str:
    return path.decode("utf-8", "backslashreplace")
