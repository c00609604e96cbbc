"""The deployment service's registry port in memory (the port's test implementation), a clock
tests move by hand, and live-figure windows shaped as prediction servers report them."""

from __future__ import annotations

from dataclasses import dataclass, field

from shipyard.errors import NotFound
from shipyard.serving.model import Role, VersionWindow

#: Latency histogram upper bounds in ms, as the prediction server's Prometheus buckets.
BOUNDS = (1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, float("inf"))


@dataclass
class MemoryCatalog:
    """Models with versions 1..n and aliases: what :class:`shipyard.serving.ports.ModelCatalog` reads."""

    versions: dict[str, int] = field(default_factory=lambda: {"churn": 3, "fraud": 1})
    aliases: dict[tuple[str, str], int] = field(default_factory=lambda: {("churn", "champion"): 1})

    def resolve(self, model: str, ref: str) -> int:
        if model not in self.versions:
            raise NotFound(f"model {model!r} does not exist", field="name")
        if ref.isdigit():
            if not 1 <= int(ref) <= self.versions[model]:
                raise NotFound(f"model {model!r} has no version {ref}", field="version")
            return int(ref)
        if (model, ref) not in self.aliases:
            raise NotFound(f"model {model!r} has no alias {ref!r}", field="alias")
        return self.aliases[(model, ref)]

    def set_alias(self, model: str, alias: str, version: int, *, actor: str) -> None:
        self.aliases[(model, alias)] = version


@dataclass
class Clock:
    now: int = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


def histogram(latencies_ms: list[float]) -> dict[float, int]:
    """A cumulative histogram of ``latencies_ms`` over :data:`BOUNDS`."""
    return {b: sum(1 for v in latencies_ms if v <= b) for b in BOUNDS}


def window(
    deployment: str,
    version: int,
    role: Role,
    start: int,
    *,
    requests: int,
    errors: int = 0,
    latency_ms: float = 4.0,
    agreed: float = 1.0,
    model: str = "churn",
) -> VersionWindow:
    """``requests`` requests, all taking ``latency_ms``; ``agreed`` of the compared ones agreeing."""
    compared = requests if role != "primary" else 0
    return VersionWindow(
        deployment=deployment,
        model=model,
        version=version,
        role=role,
        start=start,
        end=start + 10_000,
        requests=requests,
        errors=errors,
        latency_buckets=histogram([latency_ms] * requests),
        compared=compared,
        agreed=int(compared * agreed),
    )
