"""Security of what a YAML can reach: local paths stay inside the allowed roots (`..`,
absolute paths, symlinks), and every training pod the examples (and variants) render is
non-root, without privilege escalation and without host access. No cluster runs here: pods
are rendered by the pod operator's own build path (execution/kubernetes.py)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_mlops_provider.adapters.storage import ALLOWED_ROOTS_ENV, Storage, allowed_roots
from airflow_mlops_provider.exceptions import PathNotAllowedError
from airflow_mlops_provider.spec import SpecError, load_spec

from .airflow_helpers import load_dags
from .conftest import LogRecords
from .reliability_record import record
from .test_kubernetes_pod import rendered

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = Path("/etc")  # outside the project and outside the test's allowed root (/tmp)


# -- paths ---------------------------------------------------------------------------------------
def test_storage_confines_paths_to_the_allowed_roots(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "a.csv").write_text("x\n1\n")
    (project / "inside").symlink_to(project / "data")
    (project / "escape").symlink_to(OUTSIDE)
    storage = Storage(project, allowed_roots=[project])

    assert storage.resolve("data/a.csv") == str(project / "data" / "a.csv")
    assert storage.read_frame("inside/a.csv", "csv")["x"].tolist() == [1]  # symlink inside: ok
    refused = ["../x", "data/../../x", "/etc/passwd", "file:///etc/passwd", "escape/passwd"]
    for location in refused:
        with pytest.raises(PathNotAllowedError, match="outside the allowed roots"):
            storage.resolve(location)
    with pytest.raises(PathNotAllowedError):
        storage.write_text("escape/planted", "x")  # writes are refused the same way
    assert not (OUTSIDE / "planted").exists()
    assert Storage(project).resolve("/etc/passwd") == "/etc/passwd"  # the CLI: unconfined
    assert storage.resolve("s3://bucket/../k") == "s3://bucket/../k"  # S3 keys are literal


def test_allowed_roots_come_from_the_deployment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ALLOWED_ROOTS_ENV, os.pathsep.join(["/srv/lake", "/mnt/batches"]))
    assert allowed_roots(tmp_path) == [tmp_path, Path("/srv/lake"), Path("/mnt/batches")]
    monkeypatch.setenv(ALLOWED_ROOTS_ENV, "")
    assert allowed_roots(tmp_path) == [tmp_path]


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("source: include/demo/data/batches", "source: ../include/batches", "data.source"),
        ("source: include/demo/data/inference", "source: logs/../../x", "monitoring.source"),
        ("marker: _SUCCESS", "marker: ../_SUCCESS", "data.wait.marker"),
        ("marker: _SUCCESS", "marker: /tmp/_SUCCESS", "data.wait.marker"),
        ("tags: [demo]", "tags: [demo]\nstorage: {root: ../shared}", "storage.root"),
    ],
)
def test_yaml_paths_that_climb_out_are_refused(
    old: str, new: str, field: str, tmp_path: Path
) -> None:
    text = (ROOT / "dags" / "churn.yaml").read_text()
    assert old in text
    (tmp_path / "p.yaml").write_text(text.replace(old, new, 1))
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "p.yaml")
    assert f": {field}: " in str(info.value)


def test_a_symlinked_batch_outside_the_roots_is_rejected_by_the_gate(
    project: Path, airflow_db: None, capsys: pytest.CaptureFixture[str], logged: LogRecords
) -> None:
    """The YAML is valid (a relative path); the folder it names is a symlink to /etc. The
    data gate refuses it at read time: nothing outside the roots is read or copied."""
    spec = project / "dags" / "churn.yaml"
    text = spec.read_text()
    start = text.index("  source: ") + len("  source: ")
    text = text[:start] + "landing/dt={{ ds }}" + text[text.index("\n", start) :]
    spec.write_text("\n".join(line for line in text.splitlines() if "wait:" not in line))
    (project / "landing").mkdir()
    (project / "landing" / "dt=2026-11-01").symlink_to(OUTSIDE)

    dag_run = load_dags(project)["churn__training"].test(
        logical_date=datetime(2026, 11, 1, tzinfo=UTC)
    )

    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states["validate_data"] == "failed" and states["retrain"] == "upstream_failed"
    assert "outside the allowed roots" in capsys.readouterr().out + logged.text()
    quarantine = list((project / ".mlops").rglob("quarantine/**/*.parquet"))
    assert quarantine == []  # nothing from /etc was copied in


# -- pods ----------------------------------------------------------------------------------------
def kubernetes_examples() -> list[Path]:
    return [
        p
        for p in sorted((ROOT / "dags").glob("*.yaml"))
        if p.name != "defaults.yaml"
        and (yaml.safe_load(p.read_text()).get("training") or {}).get("compute") == "kubernetes"
    ]


VARIANTS = {
    "as in the example": {},
    "no gpu": {"resources": {"gpu": 0, "gpu_product": None}},
    "service account": {"kubernetes": {"service_account": "trainer"}},
    "no service account": {"kubernetes": {"service_account": None}},
    "custom uid": {"kubernetes": {"run_as_user": 4242}},
    "tolerations + pull secrets": {
        "kubernetes": {
            "tolerations": [{"key": "spot", "operator": "Exists"}],
            "image_pull_secrets": ["regcred"],
            "secret_env": {"HF_TOKEN": "hf/token"},
        }
    },
}


def deep_merge(base: dict, top: dict) -> dict:
    merged = dict(base)
    for key, value in top.items():
        both = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = deep_merge(merged[key], value) if both else value
    return merged


def rendered_pods(tmp_path: Path) -> dict[str, tuple[Any, dict]]:
    pods = {}
    for example in kubernetes_examples():
        data = yaml.safe_load(example.read_text())
        for label, change in VARIANTS.items():
            variant = {**data, "training": deep_merge(data["training"], change)}
            path = tmp_path / f"{example.stem}.yaml"
            path.write_text(yaml.safe_dump(variant))
            spec, pod = load_spec(path), rendered(path)
            pods[f"{example.name}: {label}"] = (spec, pod)
    return pods


def security_problems(pod: dict) -> list[str]:
    """Everything that would let the trainer act as root or reach the node."""
    spec, problems = pod["spec"], []
    pod_ctx = spec.get("securityContext") or {}
    if pod_ctx.get("runAsNonRoot") is not True or not pod_ctx.get("runAsUser"):
        problems.append("pod may run as root")
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            problems.append(key)
    problems += [f"hostPath {v['name']}" for v in spec.get("volumes", []) if "hostPath" in v]
    for container in spec["containers"] + spec.get("initContainers", []):
        ctx = container.get("securityContext") or {}
        if ctx.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{container['name']}: privilege escalation allowed")
        if ctx.get("privileged"):
            problems.append(f"{container['name']}: privileged")
        if ctx.get("runAsUser") == 0 or ctx.get("runAsNonRoot") is False:
            problems.append(f"{container['name']}: runs as root")
        caps = ctx.get("capabilities") or {}
        if caps.get("drop") != ["ALL"] or caps.get("add"):
            problems.append(f"{container['name']}: capabilities not dropped")
        if container.get("ports") and any(p.get("hostPort") for p in container["ports"]):
            problems.append(f"{container['name']}: hostPort")
        secretive = ("SECRET", "PASSWORD", "TOKEN")
        for var in container.get("env", []):
            if any(word in var["name"] for word in secretive) and "value" in var:
                problems.append(f"{var['name']} given as a literal value")
    return problems


def test_every_rendered_pod_is_locked_down(tmp_path: Path, request: pytest.FixtureRequest):
    pods = rendered_pods(tmp_path)
    assert len(pods) == len(kubernetes_examples()) * len(VARIANTS) >= len(VARIANTS)
    found = {name: security_problems(pod) for name, (_, pod) in pods.items()}
    assert all(not problems for problems in found.values()), found
    accounts = {
        name: pod["spec"]["automountServiceAccountToken"] for name, (_, pod) in pods.items()
    }
    for name, (spec, _) in pods.items():  # the API token only for a named service account
        assert accounts[name] is (spec.training.kubernetes.service_account is not None), name
    record(
        "pods",
        scenario=f"rendered training pods: every kubernetes example x {len(VARIANTS)} variants",
        test=request.node.nodeid,
        outcome={
            "pods checked": len(pods),
            "root / escalation / privileged / hostPath / host namespaces": 0,
            "literal secrets in env": 0,
            "service-account token mounted": sum(accounts.values()),
        },
    )


def test_root_uid_cannot_be_configured(tmp_path: Path) -> None:
    (example,) = kubernetes_examples()[:1]
    data = yaml.safe_load(example.read_text())
    data["training"] = deep_merge(data["training"], {"kubernetes": {"run_as_user": 0}})
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match="training.kubernetes.run_as_user"):
        load_spec(tmp_path / "p.yaml")
