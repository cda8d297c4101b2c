"""services/rollout.py with the sequential judge: what a measurement decides, what it logs,
audits and saves, and that a new worker continues the same analysis from the saved state.

Real local router, real `inference_logs` source on a parquet log, real storage; the registry
is the services' in-memory stand-in (conftest.py) and the clock a number."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from airflow_mlops_provider.adapters.metric_sources.inference_logs import InferenceLogsSource
from airflow_mlops_provider.adapters.mlflow_registry import CHAMPION
from airflow_mlops_provider.adapters.routers.local import LocalRouter
from airflow_mlops_provider.core import canary
from airflow_mlops_provider.services.rollout import Rollout
from airflow_mlops_provider.spec import CanarySpec, InferenceLogsMetrics


class Clock:
    now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Recording:
    """The real source, with the window each measurement asked for noted."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.windows = inner, []

    def measure(self, names: list[str], **arms: Any) -> Any:
        self.windows.append(arms["window_seconds"])
        return self.inner.measure(names, **arms)


def write_log(rt, canary_requests: int, canary_errors: int) -> None:
    """A serving log: the champion's 4x as many requests as the canary's, 0.1% failing."""
    champion = 4 * canary_requests
    frame = pd.DataFrame(
        {
            "model_version": ["2"] * canary_requests + ["1"] * champion,
            "prediction": 0.5,
            "error": np.r_[
                np.arange(canary_requests) < canary_errors, np.arange(champion) % 1000 == 0
            ],
        }
    )
    rt.storage.write_frame(frame, str(Path(rt.storage.base_dir) / "logs" / "part-0.parquet"))


def driver(rt, registry, clock: Clock, events: list) -> Rollout:
    spec = CanarySpec.model_validate(
        {
            "enabled": True,
            "metric_source": "inference_logs",
            "inference_logs": {"source": "logs"},
            "analysis": {"metrics": {"error_rate": {"max": 0.01}}, "interval": "30s", "count": 2},
            "steps": [{"set_weight": 20}, {"analysis": {}}],
        }
    )
    settings = InferenceLogsMetrics.model_validate({"source": "logs"})
    source = InferenceLogsSource(rt.storage, settings, source="logs", label=None, threshold=0.5)
    return Rollout(
        steps=list(spec.steps),
        storage=rt.storage,
        folder=rt.layout.canary,
        router=LocalRouter(rt.storage, rt.layout.canary),
        source=Recording(source),
        registry=registry,
        challenger="2",
        champion="1",
        audit=lambda event, details, actor: events.append((event, details)),
        notify=lambda text: None,
        clock=clock,
    )


@pytest.fixture
def versions(registry) -> None:
    registry.add_version("1")
    registry.add_version("2")
    registry.set_alias(CHAMPION, "1")


def saved(rt) -> dict:
    return json.loads(Path(rt.layout.canary, "rollout-v2.json").read_text())


@pytest.mark.usefixtures("versions")
def test_a_clearly_worse_canary_is_rolled_back_on_evidence_said_in_words(
    rt, registry, caplog: pytest.LogCaptureFixture
) -> None:
    write_log(rt, canary_requests=1000, canary_errors=60)
    events: list = []
    with caplog.at_level(logging.INFO, "airflow_mlops_provider.services.rollout"):
        action, state = driver(rt, registry, Clock(), events).advance()
    assert state.phase == canary.ROLLED_BACK and action.kind == canary.DONE
    assert state.reason.startswith(
        "analysis at steps[1] (weight 20%) found evidence of harm in 1 measurement(s)"
    )
    assert "error_rate value 0.0600 (sequence 0.0" in state.reason
    line = next(r.getMessage() for r in caplog.records if "Canary measurement" in r.getMessage())
    assert line.startswith(
        "Canary measurement 1 of at most 2 at weight 20% (1,000 canary / 4,000 champion "
        "requests): EVIDENCE OF HARM — error_rate value 0.0600 (sequence "
    )
    (step,) = [d for e, d in events if e == "canary_step" and "analysis" in d]
    assert step["decision"] == "evidence of harm" and step["samples"]["canary"] == 1000
    (evidence,) = step["evidence"]
    assert evidence["metric"] == "error_rate" and evidence["verdict"] == canary.FAIL
    assert evidence["lower"] < 0.06 < evidence["upper"] and evidence["requests"] == 1000
    assert [e for e, _ in events][-1] == "canary_failed"


@pytest.mark.usefixtures("versions")
def test_too_little_traffic_is_not_enough_evidence_and_a_new_worker_continues(rt, registry) -> None:
    """An equal canary on 50 requests: no rollback. The first look defers; a new worker
    (a resumed task) reads the saved look back, takes the second and pauses for a person."""
    write_log(rt, canary_requests=50, canary_errors=0)
    clock, events = Clock(), []
    first = driver(rt, registry, clock, events)
    action, state = first.advance()
    assert action.kind == canary.WAIT and action.until == clock.now + 30
    (look,) = saved(rt)["measurements"]
    assert look["status"] == canary.INCONCLUSIVE and look["decision"] == "not enough evidence yet"
    assert "requests per arm would likely decide it" in look["reasons"][0]
    assert look["checks"][0]["requests"] == 50

    clock.now = action.until  # the trigger fired: a new task process
    second = driver(rt, registry, clock, events)
    action, state = second.advance()
    assert action.kind == canary.PAUSE and state.phase == canary.PAUSED
    assert len(state.measurements) == 2 and state.measurements[0] == look
    assert "has not enough evidence either way after 2 measurement(s)" in state.reason
    assert registry.aliases()[CHAMPION] == "1"  # nothing moved, nothing rolled back
    assert [d["decision"] for e, d in events if "analysis" in d] == ["not enough evidence yet"] * 2
    # each look measured the step's traffic since its weight was set
    assert first.source.windows == [0.0] and second.source.windows == [30.0]


@pytest.mark.usefixtures("versions")
def test_a_challenger_failing_in_shadow_is_stopped_without_touching_the_router(
    rt, registry, caplog: pytest.LogCaptureFixture
) -> None:
    """Inference logs with shadow predictions: v1 served 2,000 requests, v2 scored them in
    shadow and failed 6% of them. The shadow step stops v2 on evidence before any
    set_weight: the router was never written, the stop is audited and notified as SHADOW."""
    n = 2000
    frame = pd.DataFrame(
        {
            "model_version": "1",
            "prediction": 0.5,
            "error": np.arange(n) % 1000 == 0,
            "shadow_version": "2",
            "shadow_prediction": 0.5,
            "shadow_error": np.arange(n) % 50 < 3,
        }
    )
    rt.storage.write_frame(frame, str(Path(rt.storage.base_dir) / "logs" / "part-0.parquet"))
    events, notices = [], []
    rollout = driver(rt, registry, Clock(), events)
    rollout.steps = list(
        CanarySpec.model_validate(
            {"enabled": True, "metric_source": "inference_logs",
             "inference_logs": {"source": "logs"}, "analysis": {"metrics": {"error_rate": {
                 "max": 0.01}}, "interval": "30s", "count": 2},
             "steps": [{"shadow": {}}, {"set_weight": 20}, {"analysis": {}}]}
        ).steps
    )  # fmt: skip
    rollout.source = rollout.source.inner
    rollout.notify = notices.append
    with caplog.at_level(logging.INFO, "airflow_mlops_provider.services.rollout"):
        action, state = rollout.advance()
    assert state.phase == canary.ROLLED_BACK and state.weight == 0
    assert canary.at_shadow_step(rollout.steps, state)
    assert state.reason.startswith("SHADOW: steps[0]") and "error_rate value 0.0600" in state.reason
    assert rollout.router.current()["canary"] is None  # only the rollback's "champion" write
    assert not any("set_weight" in d for _, d in events)
    line = next(r.getMessage() for r in caplog.records if "measurement 1" in r.getMessage())
    assert line.startswith(
        "SHADOW: measurement 1 of at most 2, 2,000 requests scored by both models, none "
        "served by the challenger: EVIDENCE OF HARM"
    )
    assert notices[0].startswith(":rotating_light: SHADOW: churn v2 stopped before serving")
    assert events[-1][0] == "canary_failed" and events[-1][1]["shadow"] is True
    assert registry.get_version("2").tags["mlops.decision"] == "stopped_in_shadow"
