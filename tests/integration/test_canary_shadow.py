"""The shadow stage on real `dag.test()` runs (SQLite, the reference trainer, a local MLflow
store, the local router replaying the snapshot holdout). Nothing mocked.

The canary's steps start with `- shadow: {}`: the challenger scores every replayed request of
the shadow windows next to the champion, which alone serves them; the paired judge decides.
A proper model after a weak champion passes the shadow step and goes on through the canary
steps to promotion; a weak (constant) model after it is stopped in shadow — no set_weight,
zero requests served by it, the champion kept all traffic — and audited and notified as a
rollback would be.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from .airflow_helpers import aliases, load_dags, registry
from .test_canary import DAY, GOOD, WEAK, audit, make_project, rollout_state, router_state
from .test_canary import write_yaml as canary_yaml

pytestmark = pytest.mark.integration
STEPS = "  steps:\n    - set_weight: 20\n"


def write_yaml(project: Path, data: Path, params: str) -> None:
    """The canary tests' pipeline with a shadow step before the first set_weight, replaying
    the whole first batch (4,000 requests) rather than its 800-row holdout: six windows
    (shadow, two analyses, two looks each) of the holdout would leave the canary arm ~30
    requests a look, too few for the judge to pass even a clearly better model."""
    canary_yaml(project, data, params)
    path = project / "dags" / "churn.yaml"
    text = path.read_text()
    replay = f"  metric_source: replay\n  replay: {{source: {data}/batches/dt={DAY}}}\n"
    assert text.count(STEPS) == 1 and text.count("  metric_source: replay\n") == 1
    text = text.replace(STEPS, "  steps:\n    - shadow: {}\n    - set_weight: 20\n")
    path.write_text(text.replace("  metric_source: replay\n", replay))


def train(project: Path, data: Path, params: str) -> dict[str, str]:
    write_yaml(project, data, params)
    dag = load_dags(project)["churn__training"]
    logical = datetime.fromisoformat(DAY).replace(tzinfo=UTC)
    dag_run = dag.test(logical_date=logical, run_conf={"force_retrain": True})
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def shadow_traffic(project: Path, version: str) -> pd.DataFrame:
    folder = project / ".mlops" / "pipelines" / "churn" / "canary" / f"v{version}" / "traffic"
    return pd.concat(pd.read_parquet(p) for p in sorted((folder / "step-00").glob("*.parquet")))


@pytest.mark.timeout(900)
def test_worse_model_is_stopped_in_shadow_unserved_a_better_one_goes_on_to_the_canary(
    tmp_path: Path, demo_data: Path, airflow_db: None, logged
) -> None:
    project = make_project(tmp_path / "project", demo_data)
    assert train(project, demo_data, WEAK)["canary_promote"] == "success"  # v1, cold start

    # A proper model: better on the shadowed requests, then through every canary step.
    tasks = train(project, demo_data, GOOD)
    assert tasks["canary_promote"] == "success", tasks
    client = registry(project)
    assert aliases(client) == {"champion": "2", "previous_champion": "1"}
    rollout = rollout_state(project, "2")
    assert rollout["phase"] == "promoted"
    kinds = [h["kind"] for h in rollout["history"]]
    assert kinds[:2] == ["shadow", "set_weight"] and rollout["history"][0]["weight"] == 0
    passed = shadow_traffic(project, "2")
    assert set(passed["model_version"]) == {"1"} and set(passed["shadow_version"]) == {"2"}

    # A constant model: stopped in shadow, never served.
    logged.lines.clear()
    tasks = train(project, demo_data, WEAK)
    assert tasks["canary_promote"] == "failed" and tasks["notify"] == "upstream_failed", tasks
    assert aliases(client)["champion"] == "2"
    tags = client.get_model_version("churn", "3").tags
    assert tags["mlops.decision"] == "stopped_in_shadow"
    assert tags["mlops.canary_reason"].startswith("SHADOW: steps[0]")
    assert "roc_auc regression" in tags["mlops.canary_reason"]
    assert rollout_state(project, "3")["phase"] == "rolled_back"
    assert rollout_state(project, "3")["weight"] == 0
    assert router_state(project) | {"updated": None} == {
        "stable": "2", "canary": None, "weight": 0, "updated": None
    }  # fmt: skip
    scored = shadow_traffic(project, "3")  # every request served by the champion
    assert len(scored) > 0 and set(scored["model_version"]) == {"2"}
    assert set(scored["shadow_version"]) == {"3"} and scored["shadow_prediction"].notna().all()
    events = [e for e in audit(project) if e["details"].get("version") == "3"]
    assert not any("set_weight" in e["details"] for e in events)  # zero challenger traffic
    measured = [e for e in events if e["event"] == "canary_step"]
    assert measured and all(e["details"]["shadow"] for e in measured)
    assert measured[-1]["details"]["analysis"] == "fail"
    failed = [e for e in events if e["event"] == "canary_failed"]
    assert len(failed) == 1 and failed[0]["details"]["shadow"] is True
    text = logged.text()
    assert "SHADOW: measurement 1 of at most 2" in text
    assert "SHADOW: churn v3 stopped before serving any request; v2 kept all traffic" in text
