"""A canary rollout killed at any point resumes without repeating or losing a step.

No Airflow here: the rollout driver (what `canary_promote` calls) runs against a real local
MLflow store with two versions trained by the reference trainer, the real local router and the
replay metric source. "Killing the worker" is a router or metric source that raises
`WorkerKilled` right AFTER its side effect took place and before the driver saved its state —
the worst moment — after which a brand-new driver (a new task process) carries on from
storage. Waits jump a fake clock instead of sleeping.

The two versions are nearly the same model (depth 6 and 4 on one batch), judged on 4,000
replayed requests with the demo's bounds: at 20% neither look has enough evidence, so the
step pauses and a person continues (the HITL answer); at 50% the second look, on twice the
traffic of the first, shows the bounds hold. So the kills land between the looks of an
analysis, whose saved evidence the next driver continues.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_mlops_provider.adapters.storage import Storage
from airflow_mlops_provider.core import canary
from airflow_mlops_provider.services import rollout
from airflow_mlops_provider.services.layout import TaskRef
from airflow_mlops_provider.services.runtime import Runtime
from airflow_mlops_provider.spec import load_spec

from .canary_fixtures import reset_aliases, store_fixture  # noqa: F401 - provides `store`

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: not an Exception, so nothing in the driver catches it."""


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def new_driver(tmp_path: Path, store: dict, clock: Clock, audit: list, kill: dict) -> Any:
    spec = load_spec(ROOT / "dags" / "churn.yaml")
    rt = Runtime(
        pipeline="churn",
        storage_root=str(tmp_path),
        storage=Storage(tmp_path),
        registry=store["registry"],
        task=TaskRef("churn__training", "manual__1", "canary_promote"),
    )
    driver = rollout.build(
        rt,
        canary_spec=spec.canary,
        data=spec.data,
        threshold=spec.evaluation.threshold,
        challenger="2",
        champion="1",
        sources=rollout.RolloutSources(holdout_uri=store["requests"]),
        kubernetes_conn_id=spec.connections.kubernetes,
    )
    driver.audit = lambda event, details, actor: audit.append((event, details))
    driver.notify = lambda text: None
    driver.clock = clock
    driver.router = Killing(driver.router, kill)
    driver.source = Killing(driver.source, kill)
    return driver


class Killing:
    """Proxy that lets the call happen, then "kills the worker" once on the chosen call."""

    def __init__(self, inner: Any, kill: dict) -> None:
        self.inner, self.kill = inner, kill

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr) or name == "current":
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            self.kill["calls"] = self.kill.get("calls", 0) + 1
            if self.kill["calls"] in self.kill["at"]:
                raise WorkerKilled(name)
            return result

        return call


@pytest.mark.parametrize("kill_at", [(1,), (2, 3), (7,), (1, 3, 5, 7, 9, 11, 13)])
def test_killed_rollout_resumes_without_repeating_or_losing_steps(
    tmp_path: Path, store: dict, kill_at: tuple[int, ...]
) -> None:
    reset_aliases(store["client"])
    clock, audit, kill = Clock(), [], {"at": set(kill_at)}
    crashes, pauses = 0, []
    for _ in range(40):  # each iteration is a new task process
        driver = new_driver(tmp_path, store, clock, audit, kill)
        try:
            action, state = driver.advance()
        except WorkerKilled:
            crashes += 1
            continue
        if action.kind == canary.WAIT:
            clock.now = action.until  # the trigger fired; the task resumes
            continue
        if state.phase == canary.PAUSED:  # a person answers the HITL question
            pauses.append(state.reason)
            driver.answer("continue", "reviewer")
            continue
        break
    assert crashes == len(kill_at)
    assert action.kind == canary.DONE and state.phase == canary.PROMOTED, state.reason
    (paused,) = pauses
    assert paused.startswith("analysis at steps[1] (weight 20%) has not enough evidence either")
    assert [h["step"] for h in state.history] == [0, 1, 2, 3, 4, 5]
    measured = [(h["step"], h["kind"], h.get("measurements")) for h in state.history]
    assert measured[1] == (1, "pause (continued by a person)", 2)
    assert measured[4] == (4, "analyse", 2)
    steps = [d for e, d in audit if e == "canary_step"]
    assert [d["set_weight"] for d in steps if "set_weight" in d] == [20, 50]
    looks = [d for d in steps if "analysis" in d]
    assert [(d["step"], d["measurement"]) for d in looks] == [(1, 1), (1, 2), (4, 1), (4, 2)]
    assert [d["decision"] for d in looks] == ["not enough evidence yet"] * 3 + [
        "enough evidence that every bound holds"
    ]
    # each look judges all of its step's traffic so far: the second sees about twice the first
    assert looks[1]["samples"]["canary"] > 1.8 * looks[0]["samples"]["canary"]
    assert looks[3]["samples"]["canary"] > 1.8 * looks[2]["samples"]["canary"]
    assert [e for e, _ in audit].count("canary_answered") == 1
    assert [e for e, _ in audit].count("promoted") == 1
    client = store["client"]
    model = client.get_registered_model("churn")
    assert {a: str(v) for a, v in model.aliases.items()} == {
        "champion": "2",
        "previous_champion": "1",
    }
    router = json.loads((tmp_path / "pipelines/churn/canary/router.json").read_text())
    assert (router["stable"], router["canary"], router["weight"]) == ("2", None, 0)
    tags = client.get_model_version("churn", "2").tags
    assert (tags["mlops.canary_phase"], tags["mlops.canary_step"]) == ("promoted", "5")
