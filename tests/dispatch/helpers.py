"""Builders shared by the dispatch tests: stations, fleet, hospitals and a service."""

from __future__ import annotations

from dataclasses import dataclass, field

from dispatch.memory import InMemoryRepository
from dispatch.model import Point, Priority, UnitType
from dispatch.policy import PolicyConfig
from dispatch.service import DispatchService
from dispatch.workflow import ServiceOptions
from stations.models import Hospital, Station, UnitSpec
from tests.dispatch.fakes import FakeTravel

T0 = 1_790_000_000.0  # an epoch second in 2026 (UTC)

STATIONS = [
    Station("hq", "HQ", 105.8565, 21.0245, "test", "test", is_hq=True),
    Station("dong_da", "Đống Đa", 105.82679, 21.01556, "test", "test"),
    Station("long_bien", "Long Biên", 105.89821, 21.06134, "test", "test"),
]
FLEET = [
    UnitSpec("hq-A1", "hq", UnitType.AMBULANCE, 3, "24/7", 120.0),
    UnitSpec("hq-M1", "hq", UnitType.MOTORBIKE, 1, "day", 60.0),
    UnitSpec("dong_da-A1", "dong_da", UnitType.AMBULANCE, 3, "24/7", 120.0),
    UnitSpec("long_bien-A1", "long_bien", UnitType.AMBULANCE, 3, "24/7", 120.0),
]
HOSPITALS = [
    Hospital("h-bachmai", "Bạch Mai", 105.8410, 21.0010, "emergency=yes"),
    Hospital("h-xanhpon", "Xanh Pôn", 105.8360, 21.0310, "emergency=yes"),
    Hospital("h-ducgiang", "Đức Giang", 105.8960, 21.0640, "emergency=yes"),
]
HOAN_KIEM = Point(105.8520, 21.0285)
LONG_BIEN = Point(105.8900, 21.0500)


@dataclass
class Clock:
    """A virtual clock the tests move by hand."""

    now_s: float = T0
    ticks: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> float:
        self.now_s += seconds
        return self.now_s


def make_service(
    *,
    repo: InMemoryRepository | None = None,
    clock: Clock | None = None,
    fleet: list[UnitSpec] | None = None,
    policy: PolicyConfig | None = None,
    auto_arrive_m: float | None = 50.0,
    travel: FakeTravel | None = None,
) -> DispatchService:
    ids = iter(f"C{n:04d}" for n in range(1, 10_000))
    return DispatchService(
        repo if repo is not None else InMemoryRepository(),
        travel or FakeTravel(),
        stations=STATIONS,
        fleet=FLEET if fleet is None else fleet,
        hospitals=HOSPITALS,
        clock=clock or Clock(),
        options=ServiceOptions(policy=policy or PolicyConfig(), auto_arrive_m=auto_arrive_m),
        new_id=lambda: next(ids),
    )


def new_call(
    svc: DispatchService, pin: Point = HOAN_KIEM, priority: Priority | None = Priority.P2
) -> str:
    call = svc.create_call(
        actor="dispatcher-1",
        caller_phone="0912345678",
        address_text="11 Phan Chu Trinh",
        pin=pin,
        complaint="chest pain",
        priority=priority,
    )
    return call.call_id
