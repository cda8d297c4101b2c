"""The data block's CSV dialect and the contract's patterns, as a YAML author meets them."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_mlops_provider.spec import SpecError, load_spec

EXAMPLE = Path(__file__).resolve().parents[3] / "dags" / "churn.yaml"


def load(tmp_path: Path, old: str, new: str):
    text = EXAMPLE.read_text()
    assert old in text, old
    path = tmp_path / "p.yaml"
    path.write_text(text.replace(old, new, 1))
    return load_spec(path)


def test_a_csv_dialect_is_read(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        "  format: parquet\n",
        "  format: csv\n  csv: {delimiter: ';', quote: \"'\", encoding: cp1252}\n",
    )
    assert (spec.data.csv.delimiter, spec.data.csv.quote, spec.data.csv.encoding) == (
        ";",
        "'",
        "cp1252",
    )


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("{delimiter: ';'}", "data.csv describes CSV files; set format: csv"),
        ("{delimiter: '||'}", "at most 1 character"),
        ("{encoding: ebcdic-klingon}", "unknown encoding 'ebcdic-klingon'"),
        ("{quote: '|', delimiter: '|'}", "delimiter '|' cannot separate fields"),
    ],
)
def test_dialects_that_cannot_work_are_refused(tmp_path: Path, csv: str, message: str) -> None:
    fmt = "parquet" if "describes" in message else "csv"
    with pytest.raises(SpecError, match=message):
        load(tmp_path, "  format: parquet\n", f"  format: {fmt}\n  csv: {csv}\n")


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"'^(\w+)-\1$'", "uses a backreference"),
        (r"'^\d+(?!x)'", "uses a negative lookahead"),
        (r"'^C\d+\Z'", "use \\$"),
        ("'[unclosed'", "is not a valid regular expression"),
    ],
)
def test_patterns_re2_cannot_run_are_refused(tmp_path: Path, pattern: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load(tmp_path, "customer_id: {type: str, unique: true}",
             f"customer_id: {{type: str, unique: true, pattern: {pattern}}}")  # fmt: skip
