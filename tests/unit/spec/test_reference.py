"""The YAML reference: every key described, with its default, and docs/yaml-reference.md
generated from the same schema `airflow-mlops schema` prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airflow_mlops_provider.cli import main as cli_main
from airflow_mlops_provider.spec.reference import REGENERATE, json_schema, markdown

REFERENCE = Path(__file__).resolve().parents[3] / "docs" / "yaml-reference.md"


def properties(schema: dict[str, Any]):
    """(block, key, property, required) for the top level and every block."""
    for name, node in [("PipelineSpec", schema), *schema["$defs"].items()]:
        required = set(node.get("required", ()))
        for key, prop in node.get("properties", {}).items():
            yield name, key, prop, key in required


def is_block(prop: dict[str, Any]) -> bool:
    return "$ref" in prop


def test_every_key_has_a_description_and_a_default_unless_required() -> None:
    schema = json_schema()
    undescribed = [f"{b}.{k}" for b, k, p, _ in properties(schema) if not p.get("description")]
    assert undescribed == []
    no_default = [
        f"{b}.{k}"
        for b, k, p, required in properties(schema)
        if not required and "default" not in p and not is_block(p)
    ]
    assert no_default == []
    assert all(node.get("description") for node in schema["$defs"].values())  # block texts


def test_factory_defaults_are_in_the_schema() -> None:
    training = json_schema()["$defs"]["TrainingSpec"]["properties"]
    assert training["command"]["default"] == ["python", "include/trainer/train.py"]
    assert training["env"]["default"] == {}


def test_schema_command_prints_the_same_schema(capsys) -> None:
    assert cli_main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema()


def test_committed_reference_is_up_to_date() -> None:
    assert REFERENCE.read_text() == markdown(), f"docs/yaml-reference.md is stale: {REGENERATE}"


def test_reference_links_resolve_and_cover_every_block() -> None:
    text = markdown()
    anchors = {line.split('"')[1] for line in text.splitlines() if line.startswith("<a id=")}
    links = {part.split(")")[0] for part in text.split("](#")[1:]}
    assert links <= anchors
    assert len(anchors) == len(json_schema()["$defs"]) + 1  # every block once, plus top level
