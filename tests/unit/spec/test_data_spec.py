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


def test_fanout_is_off_unless_asked_and_sizes_the_snapshot_for_its_slices(tmp_path: Path) -> None:
    assert load(tmp_path, "  format: parquet\n", "  format: parquet\n").data.fanout is None
    fanout = load(tmp_path, "  format: parquet\n", "  format: parquet\n  fanout: {slices: 3}\n")
    fanout = fanout.data.fanout
    assert fanout.planning() == {"slices": 3, "slice_rows": 5_000_000}
    assert fanout.snapshot_row_group_rows(3_200) == 1_067  # 3 row groups: 3 drift slices
    assert fanout.snapshot_row_group_rows(90_000_000) == 1024 * 1024  # never above the default
    by_rows = load(tmp_path, "  format: parquet\n", "  format: parquet\n  fanout: {}\n")
    assert by_rows.data.fanout.snapshot_row_group_rows(90_000_000) is None


@pytest.mark.parametrize(
    ("fanout", "message"),
    [
        ("{slices: 1}", "greater than or equal to 2"),
        ("{slice_rows: 100}", "greater than or equal to 10000"),
        ("{slices: 4, workers: 2}", "workers"),
    ],
)
def test_fanout_settings_that_cannot_work_are_refused(
    tmp_path: Path, fanout: str, message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        load(tmp_path, "  format: parquet\n", f"  format: parquet\n  fanout: {fanout}\n")
