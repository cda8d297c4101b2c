"""Which files of a dags folder are pipelines, and the rules that span files.

The rule (docs/pipelines.md#which-files-are-pipelines): a pipeline file sits directly in the
folder and is named `<name>.yaml` or `<name>.yml`, where `<name>` has only letters, digits,
`_` and `-` and starts with a letter or digit; `defaults.yaml` holds shared defaults. So
editor and backup copies (`churn.bak.yaml`, `.churn.yaml.swp`, `#churn.yaml#`, `churn.yaml~`)
and drafts (`_churn.yaml`) are never loaded in place of the real file; each skipped YAML is
listed with the reason, never ignored silently. A file that matches but cannot be read (a
symlink into a folder the DAG processor may not enter) stays a pipeline file: its reading
error becomes its own config error, and every other file still loads.

Two files with the same `pipeline:` name are both errors, each naming the other: neither wins.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULTS_FILE = "defaults.yaml"
PIPELINE_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\.ya?ml")
RULE = (
    "a pipeline file is named <name>.yaml or <name>.yml, <name> being letters, digits, _ "
    "and - and starting with a letter or digit"
)


@dataclass(frozen=True)
class FolderScan:
    pipelines: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def scan_folder(folder: Path) -> FolderScan:
    """The folder's pipeline files (sorted) and the YAML-looking files it skips, with why.
    Never raises: an entry that cannot be inspected is kept, so its error shows."""
    scan = FolderScan()
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        scan.skipped.append((folder, f"cannot list the folder: {exc.strerror}"))
        return scan
    for entry in entries:
        reason = _skip_reason(entry)
        if reason is None:
            scan.pipelines.append(Path(entry.path))
        elif reason:
            scan.skipped.append((Path(entry.path), reason))
    return scan


def _skip_reason(entry: os.DirEntry) -> str | None:
    """None: a pipeline file; "": not a YAML at all (not worth listing); else why not."""
    name = entry.name
    if not re.search(r"\.ya?ml", name, re.I):
        return ""
    if name == DEFAULTS_FILE:
        return ""
    if not PIPELINE_FILE.fullmatch(name):
        return f"not a pipeline file name ({RULE})"
    try:
        if entry.is_dir():
            return "a folder, not a file"
    except OSError:
        pass  # cannot tell: keep it, its reading error will say what is wrong
    return None


def pipeline_files(folder: Path) -> list[Path]:
    """Pipeline YAMLs in folder, sorted; defaults.yaml is not a pipeline."""
    return scan_folder(folder).pipelines


def duplicate_names(names: dict[Path, str]) -> dict[Path, str]:
    """For each file whose pipeline name another file also uses: the error to show, at the
    file's `pipeline:` line, naming the other file(s)."""
    by_name: dict[str, list[Path]] = {}
    for path, name in names.items():
        by_name.setdefault(name, []).append(path)
    errors = {}
    for name, paths in by_name.items():
        for path in paths if len(paths) > 1 else ():
            others = ", ".join(p.name for p in paths if p != path)
            line = _pipeline_line(path)
            errors[path] = (
                f"{path}:{line}:1: pipeline: '{name}' is also defined in {others}; pipeline "
                "names must be unique: rename one (neither file's DAGs are built until then)"
            )
    return errors


def _pipeline_line(path: Path) -> int:
    from airflow_mlops_provider.spec.loader import SpecError, read_yaml

    try:
        return read_yaml(path).positions.get(("pipeline",), (str(path), 1, 1))[1]
    except SpecError:
        return 1
