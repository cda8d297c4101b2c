"""services/steps.py: a step pod runs a request only from the provider release it runs itself.

The worker writes the request, the provider installed in the pod's image reads it; the two
are released separately (the Airflow image and the step image). Real files, the real
validation step; the request as the task writes it (`steps.request`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_mlops_provider import __version__
from airflow_mlops_provider.adapters.storage import Storage
from airflow_mlops_provider.exceptions import MlopsConfigError
from airflow_mlops_provider.services import steps
from airflow_mlops_provider.services.config import PipelineConfig

from .test_validation import CONTRACT, DATA, batch


def stored_request(tmp_path: Path, **changes) -> tuple[str, str]:
    """A validation request of a good batch, as the task stores it; (request, result)."""
    config = PipelineConfig(pipeline="p", project_dir=str(tmp_path))
    storage = config.storage.model_copy(update={"root": str(tmp_path / "store")})
    request_uri = str(tmp_path / "store" / "request.json")
    result_uri = str(tmp_path / "store" / "result.json")
    document = steps.request(
        "validation",
        config=config.model_copy(update={"storage": storage}).model_dump(mode="json"),
        task={"dag_id": "p__training", "run_id": "manual__1", "task_id": "validate_data"},
        inputs={
            "purpose": "training",
            "data": DATA.model_dump(mode="json"),
            "contract": CONTRACT.model_dump(mode="json"),
            "now": None,
            "source": str(tmp_path / batch(tmp_path)),
        },
        result=result_uri,
    )
    raw = json.loads(document)
    raw.update(changes)
    raw = {k: v for k, v in raw.items() if v is not None}
    Path(request_uri).parent.mkdir(parents=True)
    Path(request_uri).write_text(json.dumps(raw))
    return request_uri, result_uri


def run(tmp_path: Path, request_uri: str, result_uri: str) -> tuple[int, steps.StepOutcome]:
    code = steps.run_request("validation", request_uri, storage=Storage(tmp_path), tracking=None)
    return code, steps.StepOutcome.from_json(Path(result_uri).read_text())


def test_the_request_names_the_release_that_wrote_it(tmp_path) -> None:
    request_uri, result_uri = stored_request(tmp_path)
    assert json.loads(Path(request_uri).read_text())["provider_version"] == __version__
    code, outcome = run(tmp_path, request_uri, result_uri)
    assert code == 0 and outcome.error is None
    assert outcome.value["train_rows"] == 6  # the step ran
    assert (tmp_path / "store" / "pipelines").is_dir()  # where it leaves its snapshot


def test_a_patch_release_apart_runs(tmp_path) -> None:
    major, minor, *_ = __version__.split(".")
    request_uri, result_uri = stored_request(tmp_path, provider_version=f"{major}.{minor}.99")
    code, outcome = run(tmp_path, request_uri, result_uri)
    assert code == 0 and outcome.value is not None


@pytest.mark.parametrize(
    ("written_by", "named"),
    [
        ("9.9.0", "runs 9.9.0"),  # a newer worker than the image
        ("0.0.3", "runs 0.0.3"),  # an older one
        (None, "runs an older release (its request names none)"),
    ],
    ids=["newer-worker", "older-worker", "unversioned"],
)
def test_another_minor_release_is_refused_as_the_steps_outcome(
    tmp_path, caplog, written_by, named
) -> None:
    request_uri, result_uri = stored_request(tmp_path, provider_version=written_by)
    code, outcome = run(tmp_path, request_uri, result_uri)
    assert code == 0, "an answer, not a crash: the task shows it, a retry does not re-run it"
    assert not outcome.crashed and outcome.value is None
    assert not (tmp_path / "store" / "pipelines").exists(), "the step must not have run"
    with pytest.raises(MlopsConfigError) as refused:
        outcome.value_or_raise()  # what the task raises when it reads the outcome
    message = str(refused.value)
    assert "\n" not in message
    assert f"this validation pod runs airflow-mlops-provider {__version__}" in message
    assert f"the worker that wrote its request {named}" in message
    assert "rebuild the step image (compute.validation.image, or training.image" in message
    wanted = f"airflow-mlops-provider=={written_by}" if written_by else "of the worker's release"
    assert wanted in message
    assert message in caplog.text  # the pod's log says it too
