"""The pipeline YAML described for editors and for people, from one source: the models' own
fields (types, defaults, descriptions).

`json_schema()` is what `airflow-mlops schema` prints (editor autocomplete and hover help);
`markdown()` renders the same schema as docs/yaml-reference.md, so the reference cannot drift
from the code. Regenerate with:

    python -m airflow_mlops_provider.spec.reference > docs/yaml-reference.md
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, NoDefault
from pydantic_core import core_schema

from airflow_mlops_provider.spec.pipeline import PipelineSpec

REGENERATE = "python -m airflow_mlops_provider.spec.reference > docs/yaml-reference.md"


class _WithFactoryDefaults(GenerateJsonSchema):
    """Show `default_factory` defaults too (`[]`, `{}`, the default trainer command); a block's
    own defaults are on its keys, so a nested model's default is left out."""

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is None or schema.get("default_factory_takes_data"):
            return super().get_default_value(schema)
        value = factory()  # type: ignore[call-arg]
        return NoDefault if isinstance(value, BaseModel) else value


def json_schema() -> dict[str, Any]:
    return PipelineSpec.model_json_schema(schema_generator=_WithFactoryDefaults)


def markdown(schema: dict[str, Any] | None = None) -> str:
    """docs/yaml-reference.md: one table per block, in the order a pipeline YAML has them."""
    schema = schema or json_schema()
    sections = _Sections(schema)
    lines = [
        "# Pipeline YAML reference",
        "",
        "Every key a pipeline YAML may have, with its type, default and meaning. Generated from "
        "the JSON Schema that `airflow-mlops schema` prints (the models' own descriptions); do "
        f"not edit by hand: `{REGENERATE}`. A test fails when this file is out of date.",
        "",
        "Unknown keys are errors. *required* keys have no default; a block (a mapping with "
        "its own section) takes each of its keys' defaults when it is left out.",
    ]
    for path, node in sections.ordered():
        lines += ["", f'<a id="{_anchor(path)}"></a>', "", f"## {_title(path)}", ""]
        if node.get("description"):
            lines += [_one_line(node["description"]), ""]
        lines += ["| key | type | default | description |", "|---|---|---|---|"]
        required = set(node.get("required", ()))
        for key, prop in node.get("properties", {}).items():
            lines.append(
                f"| `{key}` | {_cell(sections.kind(prop))} | {_default(prop, key in required)} "
                f"| {_cell(prop.get('description', ''))} |"
            )
    return "\n".join(lines) + "\n"


class _Sections:
    """Which block is documented where: each model gets the path of its first appearance."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.defs: dict[str, Any] = schema.get("$defs", {})
        self.paths: dict[str, str] = {}
        self.order: list[tuple[str, dict[str, Any]]] = [("", schema)]
        self._visit(schema, "")

    def _visit(self, node: dict[str, Any], path: str) -> None:
        for key, prop in node.get("properties", {}).items():
            for name, suffix in _models_in(prop):
                if name not in self.paths:
                    child = f"{path}.{key}{suffix}".lstrip(".")
                    self.paths[name] = child
                    self.order.append((child, self.defs[name]))
                    self._visit(self.defs[name], child)

    def ordered(self) -> list[tuple[str, dict[str, Any]]]:
        return self.order

    def kind(self, node: dict[str, Any]) -> str:
        """A type for people: `number > 0, ≤ 1`, `list of string`, a link to a block."""
        if "$ref" in node:
            path = self.paths[node["$ref"].rsplit("/", 1)[-1]]
            return f"[{_title(path)}](#{_anchor(path)})"
        if "anyOf" in node:
            parts = [self.kind(p) for p in node["anyOf"] if p.get("type") != "null"]
            nullable = any(p.get("type") == "null" for p in node["anyOf"])
            return " or ".join(parts + (["null"] if nullable else []))
        if "enum" in node:
            return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
        if "const" in node:
            return f"`{node['const']}`"
        kind = node.get("type", "any")
        if kind == "array":
            text = f"list of {self.kind(node.get('items', {}))}"
        elif kind == "object":
            values = node.get("additionalProperties")
            text = (
                f"mapping of name → {self.kind(values)}"
                if values not in (None, True)
                else "mapping"
            )
        else:
            text = kind
        return text + _constraints(node)


def _models_in(prop: dict[str, Any]) -> list[tuple[str, str]]:
    """(model name, path suffix) for the blocks a property holds: itself, its list items
    (`[]`) or its mapping values (`.<name>`)."""
    if "$ref" in prop:
        return [(prop["$ref"].rsplit("/", 1)[-1], "")]
    found = []
    for option in prop.get("anyOf", []):
        found += _models_in(option)
    if prop.get("type") == "array" and "items" in prop:
        found += [(n, f"[]{s}") for n, s in _models_in(prop["items"])]
    if isinstance(prop.get("additionalProperties"), dict):
        found += [(n, f".<name>{s}") for n, s in _models_in(prop["additionalProperties"])]
    return found


_BOUNDS = (
    ("exclusiveMinimum", ">"),
    ("minimum", "≥"),
    ("exclusiveMaximum", "<"),
    ("maximum", "≤"),
)


def _constraints(node: dict[str, Any]) -> str:
    """` > 0, ≤ 1`, `, at least 1 item(s)`, `, matching `^a`` — appended to the type."""
    bounds = ", ".join(f"{sign} {node[key]}" for key, sign in _BOUNDS if key in node)
    others = []
    if "minItems" in node:
        others.append(f"at least {node['minItems']} item(s)")
    if "minProperties" in node:
        others.append(f"at least {node['minProperties']} entry(ies)")
    if "pattern" in node:
        others.append(f"matching `{node['pattern']}`")
    return (f" {bounds}" if bounds else "") + "".join(f", {o}" for o in others)


def _default(prop: dict[str, Any], required: bool) -> str:
    if required:
        return "*required*"
    if "default" in prop:
        return f"`{json.dumps(prop['default'], ensure_ascii=False)}`"
    return "its keys' defaults"


def _title(path: str) -> str:
    return f"`{path}`" if path else "Top level"


def _anchor(path: str) -> str:
    cleaned = "".join(c if c.isalnum() else "-" for c in path.replace("<name>", "name"))
    return "-".join(p for p in cleaned.split("-") if p) or "top-level"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def main() -> int:
    sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
