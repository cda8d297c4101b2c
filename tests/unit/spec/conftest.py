"""Variants of the annotated example pipeline, the way the spec tests change one thing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_mlops_provider.spec import Problem, SpecError, load_spec

EXAMPLE = Path(__file__).resolve().parents[3] / "dags" / "churn.yaml"


@dataclass(frozen=True)
class Example:
    folder: Path

    def variant(self, *edits: tuple[str, str]) -> tuple[Path, str]:
        """dags/churn.yaml with each (old, new) replaced once, written as p.yaml."""
        text = EXAMPLE.read_text()
        for old, new in edits:
            assert old in text, old
            text = text.replace(old, new, 1)
        path = self.folder / "p.yaml"
        path.write_text(text)
        return path, text

    @staticmethod
    def problems(path: Path) -> list[Problem]:
        with pytest.raises(SpecError) as info:
            load_spec(path)
        return info.value.problems

    @staticmethod
    def line_of(text: str, needle: str) -> int:
        return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.fixture
def example(tmp_path: Path) -> Example:
    return Example(tmp_path)
