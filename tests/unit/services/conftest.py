"""Fixtures of the service tests: a Runtime on real local storage with an in-memory registry.

The registry is the one stand-in: `FakeRegistry` has the public methods of
adapters.mlflow_registry.Registry with the same signatures (test_fake_registry_matches checks
it) and the same semantics for aliases, versions and tags, so the services' decisions, files,
audit lines and tags are tested here in milliseconds. The real Registry runs against real
MLflow stores and servers in tests/integration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_mlops_provider.adapters.mlflow_registry import (
    CHALLENGER,
    CHAMPION,
    PREVIOUS,
    Tracking,
    Version,
)
from airflow_mlops_provider.adapters.storage import Storage
from airflow_mlops_provider.core.attempts import Attempt
from airflow_mlops_provider.exceptions import RegistryError
from airflow_mlops_provider.services.layout import TaskRef
from airflow_mlops_provider.services.runtime import Runtime


@dataclass
class FakeRun:
    run_id: str
    status: str = "FINISHED"
    tags: dict[str, str] = field(default_factory=dict)
    has_model: bool = True

    @property
    def info(self) -> Any:
        return SimpleNamespace(run_id=self.run_id, status=self.status)

    @property
    def data(self) -> Any:
        return SimpleNamespace(tags=self.tags)


class FakeRegistry:
    """In-memory Registry: versions, aliases, tags, runs, metrics and artifacts."""

    def __init__(self, model_name: str = "churn") -> None:
        self.model_name = model_name
        self.tracking = Tracking("fake://mlflow", username="bot", password="pw")
        self.model_versions: dict[str, Version] = {}
        self.alias_map: dict[str, str] = {}
        self.models: dict[str, Any] = {}  # model URI → object with predict()
        self.runs: dict[str, FakeRun] = {}
        self.metrics: dict[str, dict[str, float]] = {}
        self.texts: dict[str, dict[str, str]] = {}
        self.attempt: tuple[str, str] = ("run-1", "new")  # what run_for_attempt answers

    # -- helpers for tests ------------------------------------------------------------------
    def add_version(self, version: str, run_id: str = "", **tags: str) -> Version:
        found = Version(self.model_name, version, run_id or f"run-{version}", dict(tags), 0)
        self.model_versions[version] = found
        return found

    # -- the Registry's methods -------------------------------------------------------------
    def ensure_experiment(self, name: str) -> str:
        return "exp-1"

    def run_for_attempt(
        self,
        experiment_id: str,
        *,
        task_key: str,
        run_name: str,
        tags: dict[str, str],
        attempt: Attempt | None = None,
    ) -> tuple[str, str]:
        run_id, action = self.attempt
        run = self.runs.setdefault(run_id, FakeRun(run_id, tags=dict(tags)))
        if attempt is not None:
            run.tags.update(attempt.tags)
        return run_id, action

    def create_run(
        self, experiment_id: str, task_key: str, run_name: str, tags: dict[str, str]
    ) -> str:
        run_id = f"run-{len(self.runs) + 1}"
        self.runs[run_id] = FakeRun(run_id, status="RUNNING", tags=dict(tags))
        return run_id

    def get_run(self, run_id: str) -> Any:
        return self.runs[run_id]

    def has_model(self, run_id: str) -> bool:
        return self.runs[run_id].has_model

    def set_run_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        self.runs.setdefault(run_id, FakeRun(run_id)).tags.update(
            {k: str(v) for k, v in tags.items()}
        )

    def log_metrics(self, run_id: str, metrics: dict[str, float]) -> None:
        self.metrics.setdefault(run_id, {}).update(metrics)

    def log_texts(self, run_id: str, files: dict[str, str], *, artifact_path: str) -> None:
        for name, text in files.items():
            self.texts.setdefault(run_id, {})[f"{artifact_path}/{name}"] = text

    def version_for_run(self, run_id: str) -> Version | None:
        return next((v for v in self.model_versions.values() if v.run_id == run_id), None)

    def register(self, run_id: str, tags: dict[str, str]) -> Version:
        existing = self.version_for_run(run_id)
        if existing is not None:
            return existing
        return self.add_version(str(len(self.model_versions) + 1), run_id, **tags)

    def get_version(self, version: str) -> Version:
        return self.model_versions[str(version)]

    def versions(self) -> list[Version]:
        return list(self.model_versions.values())

    def aliases(self) -> dict[str, str]:
        return dict(self.alias_map)

    def by_alias(self, alias: str) -> Version | None:
        version = self.alias_map.get(alias)
        return self.model_versions[version] if version else None

    def set_alias(self, alias: str, version: str) -> None:
        self.alias_map[alias] = str(version)

    def tag_version(self, version: str, tags: dict[str, Any]) -> None:
        self.model_versions[str(version)].tags.update({k: str(v) for k, v in tags.items()})

    def promote(self, version: str, *, replacing: str | None) -> dict[str, str | None]:
        current = self.alias_map.get(CHAMPION)
        if current == str(version):
            self.drop_challenger(version)
            return {
                "champion": current,
                "previous_champion": self.alias_map.get(PREVIOUS),
                "changed": None,
            }
        if current != replacing:
            raise RegistryError(
                f"v{version} judged against {replacing}, but the champion is now {current}"
            )
        if current:
            self.alias_map[PREVIOUS] = current
        self.alias_map[CHAMPION] = str(version)
        self.drop_challenger(version)
        return {"champion": str(version), "previous_champion": current, "changed": "yes"}

    def drop_challenger(self, version: str) -> None:
        if self.alias_map.get(CHALLENGER) == str(version):
            del self.alias_map[CHALLENGER]

    def versions_of_run(self, dag_id: str, run_id: str) -> list[Version]:
        found = [
            v
            for v in self.model_versions.values()
            if v.tags.get("mlops.dag_id") == dag_id and v.tags.get("mlops.run_id") == run_id
        ]
        return sorted(found, key=lambda v: int(v.version))

    def rollback(self, to_version: str | None) -> dict[str, str | None]:
        current = self.alias_map.get(CHAMPION)
        target = str(to_version) if to_version else self.alias_map[PREVIOUS]
        if current == target:
            return {"champion": target, "from": None, "changed": None}
        self.alias_map[CHAMPION] = target
        if current:
            self.alias_map[PREVIOUS] = current
        return {"champion": target, "from": current, "changed": "yes"}

    def storage_uri(self, version: str) -> str:
        return f"s3://models/{self.model_name}/{version}"

    def load_model(self, uri: str) -> Any:
        return self.models[uri]


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def sent() -> list[str]:
    """Messages the runtime's notifier was asked to send."""
    return []


@pytest.fixture
def published() -> dict[str, Any]:
    """What the services published (XCom in a task)."""
    return {}


@pytest.fixture
def rt(tmp_path: Path, registry: FakeRegistry, sent: list, published: dict) -> Runtime:
    def notify(text: str) -> str:
        sent.append(text)
        return "sent"

    return Runtime(
        pipeline="churn",
        storage_root=".mlops",
        storage=Storage(tmp_path, allowed_roots=[tmp_path]),
        registry=registry,  # type: ignore[arg-type]
        task=TaskRef("churn__training", "manual__2026-11-01T00:00:00+00:00", "step"),
        notify=notify,
        publish=published.__setitem__,
        project_dir=str(tmp_path),
    )


def audit_lines(rt: Runtime) -> list[dict[str, Any]]:
    path = Path(rt.layout.audit_log)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def audit():
    return audit_lines
