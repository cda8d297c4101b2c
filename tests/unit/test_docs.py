"""The manual's YAML examples are valid pipelines: a full example loads as it is, a snippet
(`drift:`, `canary:` ...) loads in place of the annotated example's own blocks. YAML that is
not a pipeline (Helm values) is fenced with a second word naming it (```yaml helm-values),
which this check leaves alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from airflow_mlops_provider.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


def examples() -> list:
    found = []
    for page in PAGES:
        for i, block in enumerate(BLOCK.findall(page.read_text())):
            found.append(pytest.param(block, id=f"{page.name}-{i}"))
    return found


def test_the_manual_has_yaml_examples() -> None:
    assert len(examples()) >= 5


def test_readme_is_a_quick_start() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


@pytest.mark.parametrize("block", examples())
def test_yaml_example_is_a_valid_pipeline(block: str, tmp_path: Path) -> None:
    snippet = yaml.safe_load(block)
    path = tmp_path / "p.yaml"
    if "pipeline" in snippet:
        path.write_text(block)
    else:
        example = yaml.safe_load((ROOT / "dags" / "churn.yaml").read_text())
        path.write_text(yaml.safe_dump({**example, **snippet}))
    load_spec(path)


def test_links_between_pages_resolve() -> None:
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", page.read_text()):
            if not (page.parent / target).resolve().is_file():
                broken.append(f"{page.name} → {target}")
    assert broken == []
