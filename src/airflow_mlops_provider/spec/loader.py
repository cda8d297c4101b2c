"""Safe YAML → PipelineSpec, with errors that point at file, line, column and field.

The YAML is data: it is composed with PyYAML's safe loader (no python/object tags), aliases are
bounded so an anchor bomb cannot expand, duplicate keys are errors, and the size is capped.
Every node's position is kept so a pydantic error can name the line a person has to edit.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from airflow_mlops_provider.exceptions import MlopsConfigError
from airflow_mlops_provider.spec.base import RULE_ERROR
from airflow_mlops_provider.spec.folder import DEFAULTS_FILE
from airflow_mlops_provider.spec.pipeline import PipelineSpec
from airflow_mlops_provider.spec.secrets import MASK, find_secrets, mask_text, secret_kind
from airflow_mlops_provider.spec.templates import check_templates

MAX_FILE_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_DEPTH = 64  # a pipeline nests ~6 levels; deeper is a mistake or an attack
_TOO_DEEP = f"settings nest more than {MAX_DEPTH} levels deep"
MAX_INT_DIGITS = 100  # Python refuses to convert >4300 digits; nothing here needs 100
INT_TAG = "tag:yaml.org,2002:int"
NESTING_SCAN_MARKERS = 1_000  # fewer `[ { - ?` than this cannot nest deep enough to matter

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{self.message}"


class SpecError(MlopsConfigError):
    """All problems of one file, in document order; str() is what a person should read."""

    def __init__(self, file: str, problems: list[Problem]):
        self.file = file
        self.problems = sorted(problems, key=lambda p: (p.line, p.column))
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class YamlDoc:
    """A parsed YAML mapping and the (file, line, column) of every key path in it."""

    data: dict[str, Any]
    positions: dict[Loc, tuple[str, int, int]]


def read_yaml(path: Path) -> YamlDoc:
    """Read one YAML mapping safely; raise SpecError naming the place of any problem."""
    name = str(path)
    text = _decode(_read_bytes(path), name)
    _check_nesting(text, name)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise SpecError(name, [Problem(name, 1, 1, "", "file is empty; write a pipeline")])
        positions: dict[Loc, tuple[str, int, int]] = {}
        _walk(node, (), positions, name, [0])
        data = loader.construct_document(node)
    except SpecError:
        raise
    except RecursionError:  # composing `[[[[...]]]]` recurses once per level
        raise SpecError(name, [Problem(name, 1, 1, "", f"{_TOO_DEEP}; write it plainly")]) from None
    except ValueError as exc:  # e.g. a date such as 2026-13-45
        raise SpecError(name, [Problem(name, 1, 1, "", f"unreadable value: {exc}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError(name, [_yaml_problem(exc, text, name)]) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        _, line, col = positions[()]
        found = f"expected a mapping of settings, found {type(data).__name__}"
        raise SpecError(name, [Problem(name, line, col, "", found)])
    return YamlDoc(data, positions)


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        message = f"file is not valid UTF-8 (byte {exc.start}); save it as UTF-8"
        raise SpecError(name, [Problem(name, line, 1, "", message)]) from None


def _yaml_problem(exc: yaml.YAMLError, text: str, name: str) -> Problem:
    """A syntax error at the place libyaml noticed it, naming where the construct began
    (an unclosed `[` is noticed lines later) and refusing object tags in plain words."""
    if isinstance(exc, yaml.reader.ReaderError):  # a control character: only an offset
        line = text.count("\n", 0, exc.position) + 1
        return Problem(name, line, 1, "", f"unacceptable character #x{exc.character:04x}")
    if not isinstance(exc, yaml.MarkedYAMLError):
        return Problem(name, 1, 1, "", str(exc))
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    message = str(exc.problem)
    started = exc.context_mark
    if exc.context and started is not None and started.line + 1 != line:
        message += f" ({exc.context} at line {started.line + 1}, column {started.column + 1})"
    if "constructor" in type(exc).__module__:
        message += " (tags that build objects are not allowed; the YAML is data)"
    return Problem(name, line, col, "", message)


def _check_nesting(text: str, name: str) -> None:
    """Refuse absurd nesting before composing, in the project's words whatever the YAML
    library does: libyaml's composer recurses once per level and overflows the C stack near
    100k levels, and since PyYAML 6.0.4 libyaml's scanner stops by itself at 1000 levels
    ("exceeded maximum nesting depth").

    Only a document with many nesting markers can get there (block indentation alone cannot
    within MAX_FILE_BYTES), so the usual file skips the scan. The scan reads parser events,
    which is iterative. When the library stops at index N, the text before N is scanned once
    more: it nests as deep as the library allowed (more than MAX_DEPTH), so the project's
    check sees level MAX_DEPTH + 1 before the truncated text ends."""
    markers = text.count("[") + text.count("{") + text.count("- ") + text.count("? ")
    if markers <= NESTING_SCAN_MARKERS:
        return
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    stopped_at = _check_depth(text, name, loader_class)
    if stopped_at:
        _check_depth(text[:stopped_at], name, loader_class)


def _check_depth(text: str, name: str, loader_class: type) -> int | None:
    """Raise SpecError at the first collection nested deeper than MAX_DEPTH; else the index
    where the parser stopped on an error (composing then reports it), or None at the end."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=loader_class):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    problem = Problem(
                        name, mark.line + 1, mark.column + 1, "", f"{_TOO_DEEP}; write it plainly"
                    )
                    raise SpecError(name, [problem])
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        return exc.problem_mark.index if exc.problem_mark else None
    except yaml.YAMLError:
        return None
    return None


def _read_bytes(path: Path) -> bytes:
    """At most MAX_FILE_BYTES, read with a bound (a /proc or growing file lies in st_size)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
            if len(raw) > MAX_FILE_BYTES:
                size = max(path.stat().st_size, len(raw))
                raise SpecError(
                    str(path),
                    [
                        Problem(
                            str(path),
                            1,
                            1,
                            "",
                            f"file is {size} bytes; a pipeline YAML may be at most "
                            f"{MAX_FILE_BYTES}",
                        )
                    ],
                )
        return raw
    except OSError as exc:
        raise SpecError(
            str(path), [Problem(str(path), 1, 1, "", f"cannot read: {exc.strerror}")]
        ) from None


def _walk(node: yaml.Node, loc: Loc, out: dict, name: str, count: list[int]) -> None:
    """Record positions, reject duplicate keys and bound alias expansion (anchor bombs),
    nesting depth and keys that are not plain scalars (`? [a, b]: c`)."""
    count[0] += 1
    if count[0] > MAX_NODES:
        raise _at_node(
            name,
            node,
            loc,
            f"document expands to more than {MAX_NODES} "
            "nodes (anchors/aliases?); write it out plainly",
        )
    if len(loc) > MAX_DEPTH:
        raise _at_node(name, node, loc[:4], f"{_TOO_DEEP}; write it plainly")
    if node.tag == INT_TAG and len(node.value) > MAX_INT_DIGITS:
        raise _at_node(name, node, loc, f"a number of {len(node.value)} digits; write a real one")
    out.setdefault(loc, (name, node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _at_node(
                    name, key_node, loc, "a key must be a plain name, not a list or mapping"
                )
            key = key_node.value
            if key in seen:
                mark = key_node.start_mark
                raise SpecError(
                    name,
                    [
                        Problem(
                            name,
                            mark.line + 1,
                            mark.column + 1,
                            dotted((*loc, key)),
                            "duplicate key; keep one",
                        )
                    ],
                )
            seen.add(key)
            out[(*loc, key)] = (name, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _walk(value_node, (*loc, key), out, name, count)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*loc, index), out, name, count)


def _at_node(name: str, node: yaml.Node, loc: Loc, message: str) -> SpecError:
    mark = node.start_mark
    return SpecError(name, [Problem(name, mark.line + 1, mark.column + 1, dotted(loc), message)])


def merge_defaults(defaults: YamlDoc | None, doc: YamlDoc) -> YamlDoc:
    """Deep-merge defaults under a pipeline: mappings merge, everything else is replaced."""
    if defaults is None:
        return doc
    positions = {loc: pos for loc, pos in defaults.positions.items() if loc}
    positions.update(doc.positions)
    return YamlDoc(_deep_merge(defaults.data, doc.data), positions)


def _deep_merge(base: dict, top: dict) -> dict:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_defaults(folder: Path) -> YamlDoc | None:
    """The folder's defaults.yaml, if there is one. A defaults file that exists but cannot be
    read (a dangling symlink, no permission) is an error, never silently no defaults."""
    path = folder / DEFAULTS_FILE
    try:
        present = path.is_file() or path.is_symlink()
    except OSError:
        present = True  # cannot even tell: reading it names the problem
    return read_yaml(path) if present else None


def load_pipeline_file(path: Path) -> PipelineSpec:
    """One pipeline YAML with the defaults.yaml of its own folder, as the DAG loader sees it."""
    return load_spec(path, load_defaults(path.parent))


def load_spec(
    path: Path, defaults: YamlDoc | None = None, *, warnings: list[Problem] | None = None
) -> PipelineSpec:
    """Read, merge defaults and validate one pipeline file: the models, the secrets policy
    (spec/secrets.py) and the templates (spec/templates.py). Warnings — problems only some
    runs would meet — are appended to `warnings` when a list is given."""
    from airflow_mlops_provider.spec.odcs import resolve_contract_file  # imports this module

    name = str(path)
    doc = resolve_contract_file(merge_defaults(defaults, read_yaml(path)), path)
    findings = list(find_secrets(doc.data))
    secrets = [_at(doc, f.loc, name, f.message()) for f in findings]
    try:
        spec = PipelineSpec.model_validate(doc.data)
    except ValidationError as exc:
        hidden = {f.loc for f in findings}
        problems = [_problem(err, doc, name, hidden) for err in exc.errors()]
        raise SpecError(name, secrets + problems) from None
    issues = check_templates(spec)
    errors = secrets + [_at(doc, i.loc, name, i.message) for i in issues if not i.warning]
    if errors:
        raise SpecError(name, errors)
    if warnings is not None:
        warnings.extend(_at(doc, i.loc, name, i.message) for i in issues if i.warning)
    return spec


def _at(doc: YamlDoc, loc: Loc, name: str, message: str) -> Problem:
    file, line, col = position(loc, doc, name)
    return Problem(file, line, col, dotted(loc), message)


def _problem(err: dict, doc: YamlDoc, name: str, hidden: set[Loc]) -> Problem:
    """A pydantic error as a Problem; the value is not repeated when it holds a secret."""
    loc: Loc = tuple(err["loc"])
    found = err.get("input")
    secret = any(loc[: len(h)] == h for h in hidden) or (
        isinstance(found, str) and secret_kind(found) is not None
    )
    message = _explain(err, loc, show_value=not secret)
    if secret and isinstance(found, str):  # a validator may have quoted the value
        message = mask_text(message.replace(found, MASK))
    return _at(doc, loc, name, message)


def position(loc: Loc, doc: YamlDoc, name: str) -> tuple[str, int, int]:
    as_text = tuple(str(p) for p in loc)  # a key written `1:` is "1" in the YAML node
    for end in range(len(loc), -1, -1):
        for candidate in (loc[:end], as_text[:end]):
            if candidate in doc.positions:
                return doc.positions[candidate]
    return name, 1, 1


def _explain(err: dict, loc: Loc, *, show_value: bool = True) -> str:
    kind, found = err["type"], err.get("input")
    if kind == "missing":
        return f"required setting is missing; add '{loc[-1]}:' here"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return f"unknown key '{loc[-1]}'; {hint}allowed here: {', '.join(allowed)}"
    message = err["msg"].removeprefix("Value error, ") + _yaml_hint(kind, found)
    if not show_value:
        return f"{message} (the value is not shown: it looks like a secret)"
    if isinstance(found, dict) or (found is None and kind == RULE_ERROR):
        return message  # a mapping is at its line: no dump of it; a rule says what it found
    return f"{message}; found {_show(found)}"


NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def _yaml_hint(kind: str, found: Any) -> str:
    """What YAML did to a value that has the wrong type: YAML 1.1 reads unquoted no/yes/
    on/off as booleans and ~ or nothing as null; a quoted number is a string."""
    if kind == "string_type" and (isinstance(found, bool) or found is None):
        return (
            " (YAML reads unquoted yes/no/on/off/true/false as booleans and ~, null or "
            "nothing as null: quote the value, e.g. 'no')"
        )
    if kind in ("int_type", "float_type") and isinstance(found, str) and NUMBER.fullmatch(found):
        return " (a quoted number is a string: write it without quotes)"
    return ""


def _show(value: Any) -> str:
    if value is None:
        return "null (an empty value)"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _allowed_keys(loc: Loc) -> list[str]:
    """Walk the model annotations along loc to list the keys a mapping there may have."""
    current: Any = PipelineSpec
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            current = field.annotation if field else None
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        elif typing.get_origin(current) is list and isinstance(part, int):
            current = typing.get_args(current)[0]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """Optional[X] / X | None → X, so the walk sees the model inside."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def dotted(loc: Loc) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
