"""`contract: {file: ...}` — a strict subset of the Open Data Contract Standard (ODCS) v3.

Teams keep one contract per dataset and reuse it across tools, so `contract:` may point at an
ODCS v3 file instead of listing columns inline. Only the subset below is read; every other key
is an error naming the key and what is supported, never silently ignored (a rule that looks
enforced but is not is worse than no rule). Documentary keys (name, description, ...) change
no check and are accepted.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from airflow_mlops_provider.spec.loader import (
    Loc,
    Problem,
    SpecError,
    YamlDoc,
    dotted,
    position,
    read_yaml,
)

ODCS_TYPES = {
    "integer": "int",
    "number": "float",
    "string": "str",
    "boolean": "bool",
    "date": "datetime",
    "timestamp": "datetime",
}
_DOC_KEYS = ("name", "description", "businessName", "tags")
_ODCS_TOP = ("apiVersion", "kind", "schema", "id", "version", "status", "domain", "dataProduct")
_ODCS_TOP += ("tenant", *_DOC_KEYS)
_ODCS_OBJECT = ("properties", "quality", "logicalType", "physicalName", "physicalType", *_DOC_KEYS)
_ODCS_PROPERTY = ("logicalType", "required", "unique", "logicalTypeOptions", "quality")
_ODCS_PROPERTY += ("physicalType", "physicalName", "examples", *_DOC_KEYS)
_ODCS_TYPE_OPTIONS = ("minimum", "maximum", "pattern")
_ODCS_QUALITY = ("metric", "type", "arguments", "unit", "severity", "dimension", "businessImpact")
_ODCS_QUALITY += ("mustBe", "mustBeLessOrEqualTo", "mustBeGreaterOrEqualTo", "mustBeBetween")
_ODCS_QUALITY += ("name", "description")
# Library metrics supported per level → the one argument each takes (None: no arguments).
_COLUMN_METRICS = {"nullValues": None, "duplicateValues": None, "invalidValues": "validValues"}
_TABLE_METRICS = {"rowCount": None, "duplicateValues": "properties"}
_ODCS_SEVERITY = {"error": "error", "warning": "warn", "warn": "warn"}
# What the pipeline's contract block may add to a file: rules ODCS's library does not have.
CONTRACT_FILE_KEYS = ("file", "allow_extra_columns", "freshness", "no_future_timestamps")


def resolve_contract_file(doc: YamlDoc, path: Path) -> YamlDoc:
    """Replace `contract: {file: ...}` by the inline contract read from the ODCS file.

    The file is relative to the project (the dags folder's parent), like storage.root. The
    positions of the converted keys point into the ODCS file, so a pydantic error on, say, a
    minimum names the ODCS file and line.
    """
    contract = doc.data.get("contract")
    if not isinstance(contract, dict) or "file" not in contract:
        return doc
    name = str(path)
    beside = ", ".join(CONTRACT_FILE_KEYS[1:])
    problems = [
        _at(
            doc,
            ("contract", key),
            name,
            f"'{key}' comes from the contract file; next to file: only {beside} may be given here",
        )
        for key in contract
        if key not in CONTRACT_FILE_KEYS
    ]
    odcs_path = _contract_path(doc, path, contract["file"], problems)
    if problems or odcs_path is None:
        raise SpecError(name, problems)
    odcs = read_yaml(odcs_path)
    reader = _OdcsReader(odcs, str(odcs_path))
    converted = reader.contract()
    if reader.problems:
        raise SpecError(name, reader.problems)
    converted.update({k: v for k, v in contract.items() if k != "file"})
    positions = {loc: pos for loc, pos in doc.positions.items() if loc[:2] != ("contract", "file")}
    positions.update({("contract", *loc): pos for loc, pos in reader.positions.items()})
    return YamlDoc({**doc.data, "contract": converted}, positions)


def _at(doc: YamlDoc, loc: Loc, name: str, message: str) -> Problem:
    file, line, col = position(loc, doc, name)
    return Problem(file, line, col, dotted(loc), message)


def _contract_path(doc: YamlDoc, path: Path, value: Any, problems: list[Problem]) -> Path | None:
    """The ODCS file, which must be a relative path inside the project (portable, no escape)."""
    loc, name = ("contract", "file"), str(path)
    if not isinstance(value, str) or not value:
        problems.append(_at(doc, loc, name, "write the ODCS file's path relative to the project"))
        return None
    project = path.resolve().parent.parent
    target = (project / value).resolve()
    if Path(value).is_absolute() or not target.is_relative_to(project):
        problems.append(
            _at(doc, loc, name, f"{value!r} must be a path inside the project ({project})")
        )
        return None
    if not target.is_file():
        problems.append(_at(doc, loc, name, f"no file {target}; the path is relative to {project}"))
        return None
    return target


class _OdcsReader:
    """ODCS v3 subset → the inline `contract:` mapping, with problems and positions."""

    def __init__(self, doc: YamlDoc, name: str) -> None:
        self.doc, self.name = doc, name
        self.problems: list[Problem] = []
        self.positions: dict[Loc, tuple[str, int, int]] = {}

    def contract(self) -> dict[str, Any]:
        top = self._mapping(self.doc.data, (), _ODCS_TOP)
        version = top.get("apiVersion")
        if not (isinstance(version, str) and version.startswith("v3.")):
            self._problem(("apiVersion",), f"supported: ODCS v3 (e.g. v3.0.2); found {version!r}")
        if top.get("kind") != "DataContract":
            self._problem(("kind",), f"must be DataContract; found {top.get('kind')!r}")
        schema = top.get("schema")
        if not (isinstance(schema, list) and len(schema) == 1):
            self._problem(("schema",), "supported: a list of exactly one object (the dataset)")
            return {}
        obj = self._mapping(schema[0], ("schema", 0), _ODCS_OBJECT)
        out: dict[str, Any] = {"columns": {}}
        self._record(("columns",), ("schema", 0, "properties"))
        props = obj.get("properties")
        if not isinstance(props, list) or not props:
            self._problem(("schema", 0, "properties"), "list the dataset's columns here")
            props = []
        for index, prop in enumerate(props):
            self._property(prop, ("schema", 0, "properties", index), out["columns"])
        for index, rule in enumerate(obj.get("quality") or []):
            self._table_quality(rule, ("schema", 0, "quality", index), out)
        return out

    # -- properties (columns) --

    def _property(self, prop: Any, loc: Loc, columns: dict[str, Any]) -> None:
        prop = self._mapping(prop, loc, ("name", *_ODCS_PROPERTY))
        name = prop.get("name")
        if not isinstance(name, str):
            self._problem((*loc, "name"), "every property needs a name (the column)")
            return
        logical = prop.get("logicalType")
        if logical not in ODCS_TYPES:
            self._problem(
                (*loc, "logicalType"),
                f"supported logicalType: {', '.join(ODCS_TYPES)}; found {logical!r}",
            )
            return
        column: dict[str, Any] = {"type": ODCS_TYPES[logical]}
        self._record(("columns", name), loc)
        self._record(("columns", name, "type"), (*loc, "logicalType"))
        self._copy(prop, loc, column, name, {"required": "required", "unique": "unique"})
        column.setdefault("required", False)  # ODCS: required defaults to false
        options = self._mapping(
            prop.get("logicalTypeOptions", {}), (*loc, "logicalTypeOptions"), _ODCS_TYPE_OPTIONS
        )
        wanted = {"minimum": "min", "maximum": "max", "pattern": "pattern"}
        self._copy(options, (*loc, "logicalTypeOptions"), column, name, wanted)
        severities = set()
        for index, rule in enumerate(prop.get("quality") or []):
            severities.add(self._column_quality(rule, (*loc, "quality", index), column, name))
        severities.discard(None)
        if len(severities) > 1:
            self._problem((*loc, "quality"), "this subset takes one severity per property; use one")
        elif severities:
            column["severity"] = severities.pop()
        columns[name] = column

    def _column_quality(self, rule: Any, loc: Loc, column: dict, name: str) -> str | None:
        rule = self._mapping(rule, loc, _ODCS_QUALITY)
        metric = self._library_metric(rule, loc, _COLUMN_METRICS)
        if metric == "nullValues":
            self._null_values(rule, loc, column, name)
        elif metric == "duplicateValues":
            self._must_be_zero(rule, loc)
            column["unique"] = True
            self._record(("columns", name, "unique"), loc)
        elif metric == "invalidValues":
            self._must_be_zero(rule, loc)
            args = self._mapping(rule.get("arguments"), (*loc, "arguments"), ("validValues",))
            if "validValues" not in args:
                self._problem((*loc, "arguments"), "supported: arguments: {validValues: [...]}")
            else:
                column["allowed"] = args["validValues"]
                self._record(("columns", name, "allowed"), (*loc, "arguments", "validValues"))
        return self._severity(rule, loc)

    def _null_values(self, rule: dict, loc: Loc, column: dict, name: str) -> None:
        """mustBe: 0 → required; mustBeLessOrEqualTo: N with unit: percent → max_null_fraction."""
        if rule.get("mustBe") == 0 and "mustBeLessOrEqualTo" not in rule:
            column["required"] = True
            self._record(("columns", name, "required"), loc)
            return
        limit = rule.get("mustBeLessOrEqualTo")
        if rule.get("unit") != "percent" or not isinstance(limit, int | float):
            self._problem(
                loc,
                "supported for nullValues: mustBe: 0, or mustBeLessOrEqualTo: N with unit: percent",
            )
            return
        column["max_null_fraction"] = limit / 100
        self._record(("columns", name, "max_null_fraction"), (*loc, "mustBeLessOrEqualTo"))

    # -- dataset-level quality --

    def _table_quality(self, rule: Any, loc: Loc, out: dict[str, Any]) -> None:
        rule = self._mapping(rule, loc, _ODCS_QUALITY)
        metric = self._library_metric(rule, loc, _TABLE_METRICS)
        severity = self._severity(rule, loc)
        if metric == "rowCount":
            if severity == "warn":
                self._problem((*loc, "severity"), "rowCount is always an error in this subset")
            self._row_count(rule, loc, out)
        elif metric == "duplicateValues":
            self._must_be_zero(rule, loc)
            args = self._mapping(rule.get("arguments"), (*loc, "arguments"), ("properties",))
            key: dict[str, Any] = {"columns": args.get("properties")}
            if severity is not None:
                key["severity"] = severity
            keys = out.setdefault("unique_keys", [])
            self._record(("unique_keys", len(keys)), (*loc, "arguments", "properties"))
            self._record(("unique_keys", len(keys), "columns"), (*loc, "arguments", "properties"))
            keys.append(key)

    def _row_count(self, rule: dict, loc: Loc, out: dict[str, Any]) -> None:
        given = {
            "mustBeGreaterOrEqualTo": ("min_rows",),
            "mustBeLessOrEqualTo": ("max_rows",),
            "mustBeBetween": ("min_rows", "max_rows"),
        }
        used = [op for op in given if op in rule]
        if not used or "mustBe" in rule:
            self._problem(loc, f"supported for rowCount: {', '.join(given)}")
        for op in used:
            values = rule[op] if op == "mustBeBetween" else [rule[op]]
            if not isinstance(values, list) or len(values) != len(given[op]):
                self._problem((*loc, op), "write mustBeBetween: [low, high]")
                continue
            for target, value in zip(given[op], values, strict=True):
                out[target] = value
                self._record((target,), (*loc, op))

    # -- shared --

    def _library_metric(self, rule: dict, loc: Loc, supported: dict[str, str | None]) -> str | None:
        """The rule's metric if supported here; `supported` maps each to its argument, if any."""
        if rule.get("type", "library") != "library":
            self._problem((*loc, "type"), "supported: library rules (metric: ...), not sql/custom")
            return None
        metric = rule.get("metric")
        if metric not in supported:
            self._problem(
                (*loc, "metric") if "metric" in rule else loc,
                f"supported metric here: {', '.join(supported)}; found {metric!r}",
            )
            return None
        if "arguments" in rule and supported[metric] is None:
            self._problem((*loc, "arguments"), f"{metric} takes no arguments here")
        unit = rule.get("unit", "rows")
        if unit != "rows" and not (metric == "nullValues" and unit == "percent"):
            self._problem((*loc, "unit"), f"supported unit for {metric}: rows; found {unit!r}")
        return metric

    def _must_be_zero(self, rule: dict, loc: Loc) -> None:
        ops = [k for k in rule if k.startswith("mustBe")]
        if ops != ["mustBe"] or rule["mustBe"] != 0:
            self._problem(loc, "supported for this metric: mustBe: 0 only")

    def _severity(self, rule: dict, loc: Loc) -> str | None:
        if "severity" not in rule:
            return None
        value = rule["severity"]
        if value not in _ODCS_SEVERITY:
            self._problem((*loc, "severity"), f"supported: error, warning; found {value!r}")
            return None
        return _ODCS_SEVERITY[value]

    def _copy(self, src: dict, loc: Loc, column: dict, name: str, keys: dict[str, str]) -> None:
        for odcs_key, ours in keys.items():
            if odcs_key in src:
                column[ours] = src[odcs_key]
                self._record(("columns", name, ours), (*loc, odcs_key))

    def _mapping(self, value: Any, loc: Loc, allowed: tuple[str, ...]) -> dict[str, Any]:
        """The mapping at loc, reporting each key outside the subset (and returning {})."""
        if not isinstance(value, dict):
            self._problem(loc, f"expected a mapping, found {type(value).__name__}")
            return {}
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                self._problem(
                    (*loc, key),
                    f"unsupported key '{key}'; {hint}this ODCS v3 subset supports here: "
                    f"{', '.join(allowed)}",
                )
        return value

    def _record(self, ours: Loc, odcs_loc: Loc) -> None:
        self.positions[ours] = position(odcs_loc, self.doc, self.name)

    def _problem(self, loc: Loc, message: str) -> None:
        self.problems.append(_at(self.doc, loc, self.name, message))
