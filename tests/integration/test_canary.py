"""Canary acceptance on real `dag.test()` runs: SQLite, the reference trainer, a local MLflow
store, the local router replaying the snapshot holdout through both models. Nothing mocked.

The gate is deliberately loose (roc_auc >= 0.5 only) so a weak challenger — the reference
trainer with `min_samples_leaf` above the row count, i.e. a constant score — passes it; the
canary's sequential judge compares it with the champion on replayed traffic and must roll it
back on evidence in every seeded trial (one demo dataset per seed), while a proper model after
a weak champion is promoted through every step.
"""

from __future__ import annotations

import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .airflow_helpers import aliases, load_dags, registry, run
from .canary_fixtures import small_replay_bounds

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DAY = "2026-11-01"
GOOD = "{learning_rate: 0.1, max_iter: 200, max_depth: 6}"
# No split can reach min_samples_leaf: a constant model, roc_auc 0.5 — passes `min: 0.5`.
WEAK = "{learning_rate: 0.1, max_iter: 1, max_depth: 1, min_samples_leaf: 100000}"


def make_project(folder: Path, data: Path) -> Path:
    (folder / "dags").mkdir(parents=True)
    shutil.copy(ROOT / "dags" / "pipelines.py", folder / "dags")
    shutil.copytree(ROOT / "include" / "trainer", folder / "include" / "trainer")
    write_yaml(folder, data, GOOD)
    return folder


def write_yaml(project: Path, data: Path, params: str) -> None:
    text = (ROOT / "dags" / "churn.yaml").read_text()
    for old, new in (
        ("include/demo/data", str(data)),
        ("min_rows: 1000", "min_rows: 100"),
        (
            "roc_auc: {min: 0.65, max_regression: 0.01}\n    accuracy: {min: 0.6}",
            "roc_auc: {min: 0.5}",
        ),
        (f"params: {GOOD}", f"params: {params}"),
        # The gate must let the worse model through to the canary (and `dags test` cannot
        # answer an approval): canary tests judge the rollout, not the gate.
        ("approval: {mode: risk,", "approval: {mode: never,"),
        ("disagreement: {max: 0.5}", "disagreement: {max: 1.0}"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    text = small_replay_bounds(text)
    # No retries: a failure other than the canary's own would otherwise wait out retry_delay.
    (project / "dags" / "churn.yaml").write_text(text + "\nretries: 0\n")


def train(project: Path, data: Path, params: str) -> tuple[str, dict[str, str]]:
    """One training run with the given trainer params; (run state, task states)."""
    write_yaml(project, data, params)
    dag = load_dags(project)["churn__training"]
    logical = datetime.fromisoformat(DAY).replace(tzinfo=UTC)
    dag_run = dag.test(logical_date=logical, run_conf={"force_retrain": True})
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    return str(dag_run.state), states


def audit(project: Path) -> list[dict]:
    path = project / ".mlops" / "pipelines" / "churn" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def router_state(project: Path) -> dict:
    path = project / ".mlops" / "pipelines" / "churn" / "canary" / "router.json"
    return json.loads(path.read_text())


def rollout_state(project: Path, version: str) -> dict:
    path = project / ".mlops" / "pipelines" / "churn" / "canary" / f"rollout-v{version}.json"
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def seeded_data(tmp_path_factory: pytest.TempPathFactory):
    sys.path.insert(0, str(ROOT / "include" / "demo"))
    from generate import generate

    def make(seed: int) -> Path:
        out = tmp_path_factory.mktemp(f"canary-data-{seed}")
        generate(out, rows=4000, seed=seed)
        return out

    return make


def assert_rolled_back(project: Path, client, version: str, champion: str) -> None:
    assert aliases(client)["champion"] == champion
    tags = client.get_model_version("churn", version).tags
    assert tags["mlops.decision"] == "rolled_back_canary"
    assert "found evidence of harm" in tags["mlops.canary_reason"]
    assert "roc_auc regression" in tags["mlops.canary_reason"]
    assert tags["mlops.canary_phase"] == "rolled_back"
    assert router_state(project) | {"updated": None} == {
        "stable": champion,
        "canary": None,
        "weight": 0,
        "updated": None,
    }
    events = [e for e in audit(project) if e["details"].get("version") == version]
    assert [e["event"] for e in events if e["event"] != "canary_step"][-1] == "canary_failed"
    assert any(e["details"].get("set_weight") == 20 for e in events)
    assert not any(e["details"].get("set_weight") == 50 for e in events)  # stopped at 20%


@pytest.mark.timeout(900)
@pytest.mark.parametrize("seed", [7, 11, 23])
def test_worse_challenger_is_rolled_back_better_one_promoted(
    seed: int, seeded_data, tmp_path: Path, airflow_db: None
) -> None:
    data = seeded_data(seed)
    project = make_project(tmp_path / "project", data)
    client = None

    if seed == 7:
        # A weak champion first (cold start: promoted directly, there is nothing to compare)...
        state, _ = train(project, data, WEAK)
        assert state == "success"
        # ...then a proper model: better on the replayed traffic, promoted through every step.
        state, tasks = train(project, data, GOOD)
        assert state == "success" and tasks["canary_promote"] == "success", tasks
        client = registry(project)
        assert aliases(client) == {"champion": "2", "previous_champion": "1"}
        rollout = rollout_state(project, "2")
        assert rollout["phase"] == "promoted"
        assert [h["step"] for h in rollout["history"]] == [0, 1, 2, 3, 4, 5]
        assert router_state(project)["stable"] == "2" and router_state(project)["weight"] == 0
        champion, worse = "2", "3"
    else:
        state, _ = train(project, data, GOOD)
        assert state == "success"
        champion, worse = "1", "2"

    # The weak challenger passes the loose gate, then fails the canary analysis.
    state, tasks = train(project, data, WEAK)
    client = client or registry(project)
    assert client.get_model_version("churn", worse).tags["mlops.gate"] == "promote"
    assert state == "failed" and tasks["canary_promote"] == "failed", tasks
    assert tasks["notify"] == "upstream_failed"
    assert_rolled_back(project, client, worse, champion)

    if seed == 7:
        # The rollback DAG moves the champion back AND reverts traffic; a second run is a no-op.
        rollback = load_dags(project)["churn__rollback"]
        run(rollback, "2026-11-02")
        assert aliases(client)["champion"] == "1"
        assert router_state(project)["stable"] == "1"
        before = (audit(project), router_state(project))
        run(rollback, "2026-11-03", conf={"version": "1"})
        assert aliases(client)["champion"] == "1"
        assert (audit(project), router_state(project)) == before
