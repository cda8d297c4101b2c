"""Which files of a dags folder are pipelines (one documented rule), what is skipped and why,
and a duplicate pipeline name as an error of every file that uses it."""

from __future__ import annotations

import os
from pathlib import Path

from airflow_mlops_provider.cli import main
from airflow_mlops_provider.spec import duplicate_names, scan_folder

EXAMPLE = Path(__file__).resolve().parents[3] / "dags" / "churn.yaml"


def test_the_pipeline_file_rule(tmp_path: Path) -> None:
    pipelines = ["churn.yaml", "fraud-v2.yml", "Team_A.yaml", "2026_model.yaml"]
    skipped = [
        "churn.bak.yaml",  # a backup copy: never the live DAGs
        "churn.yaml.orig",
        "churn.yaml~",
        ".churn.yaml.swp",
        "#churn.yaml#",
        "_draft.yaml",
        "churn copy.yaml",
        "churn.YAML",
    ]
    for name in [*pipelines, *skipped, "defaults.yaml", "README.md", "pipelines.py"]:
        (tmp_path / name).write_text("pipeline: x\n")
    (tmp_path / "old.yaml").mkdir()
    scan = scan_folder(tmp_path)
    assert [p.name for p in scan.pipelines] == sorted(pipelines)
    reasons = {p.name: reason for p, reason in scan.skipped}
    assert sorted(reasons) == sorted([*skipped, "old.yaml"])
    assert reasons["old.yaml"] == "a folder, not a file"
    assert all("letters, digits, _ and -" in reasons[n] for n in skipped)


def test_a_dangling_or_unreadable_link_stays_a_pipeline_file(tmp_path: Path) -> None:
    """Kept, so that reading it fails visibly as its own config error."""
    os.symlink(tmp_path / "nowhere" / "x.yaml", tmp_path / "lost.yaml")
    assert [p.name for p in scan_folder(tmp_path).pipelines] == ["lost.yaml"]


def test_an_unlistable_folder_is_reported_not_raised(tmp_path: Path) -> None:
    scan = scan_folder(tmp_path / "missing")
    assert scan.pipelines == [] and "cannot list the folder" in scan.skipped[0][1]


def test_duplicates_name_each_other_at_their_pipeline_line(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml", "c.yaml"):
        (tmp_path / name).write_text("# shared\n\npipeline: twin\n")
    (tmp_path / "d.yaml").write_text("pipeline: single\n")
    names = {tmp_path / n: "twin" for n in ("a.yaml", "b.yaml", "c.yaml")}
    errors = duplicate_names({**names, tmp_path / "d.yaml": "single"})
    assert set(errors) == set(names)
    assert errors[tmp_path / "b.yaml"].startswith(f"{tmp_path / 'b.yaml'}:3:1: pipeline: 'twin'")
    assert "is also defined in a.yaml, c.yaml" in errors[tmp_path / "b.yaml"]


def test_validate_lists_skipped_files_and_loads_only_pipelines(tmp_path: Path, capsys) -> None:
    (tmp_path / "churn.yaml").write_text(EXAMPLE.read_text())
    (tmp_path / "churn.bak.yaml").write_text("pipeline: [broken\n")
    assert main(["validate", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert f"skipped {tmp_path / 'churn.bak.yaml'}: not a pipeline file name" in captured.err
    assert "1 file(s) checked, 0 with errors" in captured.err and "pipeline churn" in captured.out


def test_validate_reports_an_unreadable_file_without_a_traceback(tmp_path: Path, capsys) -> None:
    (tmp_path / "churn.yaml").write_text(EXAMPLE.read_text())
    (tmp_path / "shared.yaml").symlink_to(tmp_path / "gone" / "shared.yaml")
    assert main(["validate", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'shared.yaml'}:1:1: cannot read: No such file or directory" in err
    assert "Traceback" not in err and "2 file(s) checked, 1 with errors" in err
