"""`airflow-mlops validate` and `schema`: exit codes and output, without Airflow."""

from __future__ import annotations

import json
from pathlib import Path

from airflow_mlops_provider.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_validate_the_example_folder(capsys) -> None:
    assert main(["validate", str(ROOT / "dags")]) == 0
    assert "pipeline churn" in capsys.readouterr().out


def test_validate_reports_every_broken_file_and_exits_1(tmp_path: Path, capsys) -> None:
    good = (ROOT / "dags" / "churn.yaml").read_text()
    (tmp_path / "a.yaml").write_text(good.replace("owner: ml-platform", "ownr: ml-platform"))
    (tmp_path / "b.yaml").write_text(good.replace("pipeline: churn", "pipeline: Bad-Name"))
    assert main(["validate", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "a.yaml:4:1: ownr: unknown key 'ownr'; did you mean 'owner'?" in err
    assert "b.yaml:3:1: pipeline:" in err and "2 file(s) checked, 2 with errors" in err


def test_validate_rejects_duplicate_pipeline_names(tmp_path: Path, capsys) -> None:
    for name in ("one.yaml", "two.yaml"):
        (tmp_path / name).write_text((ROOT / "dags" / "churn.yaml").read_text())
    assert main(["validate", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'one.yaml'}:3:1: pipeline: 'churn' is also defined in two.yaml" in err
    assert f"{tmp_path / 'two.yaml'}:3:1: pipeline: 'churn' is also defined in one.yaml" in err
    assert "2 file(s) checked, 2 with errors" in err


def test_validate_with_nothing_to_check_fails(tmp_path: Path) -> None:
    assert main(["validate", str(tmp_path)]) == 1


def test_schema_is_json_schema_with_every_section(capsys) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"data", "contract", "evaluation", "monitoring", "training"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False


def test_demo_outside_a_checkout_says_what_is_missing(tmp_path: Path, capsys) -> None:
    """The wheel ships the `demo` command but not the example project it runs."""
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "churn.yaml").write_text("pipeline: churn\n")
    assert main(["demo", "--project", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "include/demo/generate.py, include/trainer/train.py" in err
    assert "dags/churn.yaml" not in err.split("lacks", 1)[1].split("(")[0]
    assert "make demo" in err and not (tmp_path / ".mlops").exists()
