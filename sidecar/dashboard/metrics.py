"""`/metrics` for Prometheus: the dashboard's numbers under conventional names, read when scraped (from the ledger,
the live workspace and the blueprint check), so that nothing is counted twice and a restart loses nothing: the
counters are the ledger's totals.

- `autoprove_attempts_total{family, outcome}`: tactic attempts, per strategy family and prover outcome
- `autoprove_attempt_duration_seconds{family}`: their durations (histogram)
- `autoprove_proofs_total{family}`: goals proved, per the family that finished the proof
- `autoprove_goals{status}`, `autoprove_open_goals`: the live workspace's goals
- `autoprove_cpu_fraction`, `autoprove_cpu_target_fraction`: the search's share of the machine, and its target
- `autoprove_blueprint_nodes{state}`: the blueprint's nodes by colour
- `autoprove_llm_dollars_total{provider}`, `autoprove_llm_calls_total{provider}`: profile 2's spending
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from ..errors import AutoProveError

if TYPE_CHECKING:
    from .model import DashboardModel

__all__ = ["CONTENT_TYPE", "metrics_text"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _Collector:
    def __init__(self, model: "DashboardModel") -> None:
        self.model = model

    def collect(self) -> Iterator[Metric]:
        m = self.model
        attempts = CounterMetricFamily("autoprove_attempts", "Tactic attempts by strategy family and outcome",
                                       labels=["family", "outcome"])
        durations = HistogramMetricFamily("autoprove_attempt_duration_seconds", "Tactic attempt durations",
                                          labels=["family"])
        proofs = CounterMetricFamily("autoprove_proofs", "Goals proved, by the family that finished the proof",
                                     labels=["family"])
        dollars = CounterMetricFamily("autoprove_llm_dollars", "Language-model spending", labels=["provider"])
        calls = CounterMetricFamily("autoprove_llm_calls", "Language-model calls", labels=["provider"])
        if m.ledger is not None:
            try:
                for (family, outcome), n in sorted(m.ledger.attempt_outcomes().items()):
                    attempts.add_metric([family, outcome], n)
                for family, (cum, n, total) in sorted(m.ledger.attempt_durations(BUCKETS).items()):
                    buckets = [(repr(b), c) for b, c in zip(BUCKETS, cum)] + [("+Inf", n)]
                    durations.add_metric([family], buckets, total)
                for family, (_, won, _) in sorted(m.ledger.family_history().items()):
                    proofs.add_metric([family], won)
                for provider, (ncalls, _, spent) in sorted(m.ledger.llm_spend().items()):
                    calls.add_metric([provider], ncalls)
                    dollars.add_metric([provider], spent)
            except AutoProveError:
                pass  # an unreadable ledger: the live numbers below are still worth scraping
        yield from (attempts, durations, proofs, dollars, calls)
        if m.live is not None:
            status = m.live.status()
            goals = GaugeMetricFamily("autoprove_goals", "Live goals by status", labels=["status"])
            for key in ("queued", "running", "proved", "exhausted", "errors"):
                goals.add_metric([key], float(status.get(key, 0)))  # type: ignore[arg-type]
            yield goals
            opened = float(status.get("total", 0)) - float(status.get("proved", 0))  # type: ignore[arg-type]
            yield GaugeMetricFamily("autoprove_open_goals", "Live goals not yet proved", value=opened)
            yield GaugeMetricFamily("autoprove_cpu_fraction", "The search's share of the machine's CPU",
                                    value=float(status.get("cpu", 0.0)))  # type: ignore[arg-type]
            yield GaugeMetricFamily("autoprove_cpu_target_fraction", "The CPU share the search is held to",
                                    value=float(status.get("cpuTarget", 0.0)))  # type: ignore[arg-type]
        nodes = GaugeMetricFamily("autoprove_blueprint_nodes", "Blueprint nodes by state", labels=["state"])
        state = m.state() if m.check() is not None else {"nodes": {}}
        for colour, n in sorted(Counter(state["nodes"].values()).items()):
            nodes.add_metric([colour], n)
        yield nodes


def metrics_text(model: "DashboardModel") -> bytes:
    """The Prometheus text exposition of `model`'s numbers now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(model))  # type: ignore[arg-type]
    return bytes(generate_latest(registry))
