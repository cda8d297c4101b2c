"""Which files of a location are a batch: the listing rule every read follows.

A location is a file, or a folder read recursively in path order. Names (files or folders)
starting with ``.`` or ``_`` are not data and are skipped: ``_SUCCESS``, ``_temporary/``,
``.part-1.parquet`` (in progress), ``.x.parquet.crc``. Every other file must be a part of the
declared format (``.parquet``/``.parq``; ``.csv``/``.csv.gz``): a part of the other format, or
any other visible file, is an error naming it — half a batch is never silently read.
``key=value`` folder names are hive partitions (`Part.partition`). Local files stay inside the
storage's allowed roots, each one checked; S3 listings run under the I/O deadline policy.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

from airflow_mlops_provider.exceptions import DataReadError

if TYPE_CHECKING:
    from airflow_mlops_provider.adapters.storage import Storage

__all__ = ["SUFFIXES", "Part", "describe_error", "guess_format", "hidden", "list_parts", "some"]

SUFFIXES = {"parquet": (".parquet", ".parq"), "csv": (".csv", ".csv.gz")}
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True)
class Part:
    """One data file of a batch: where it is, its size, its hive partition values."""

    uri: str
    bytes: int
    partition: tuple[tuple[str, str | None], ...] = ()


def hidden(name: str) -> bool:
    """Not data: names starting with "." or "_" (markers, in-progress and checksum files)."""
    return name.startswith((".", "_"))


def guess_format(storage: Storage, location: str) -> str:
    """The format of a location when no pipeline says it: a file's suffix, or the suffixes of
    a folder's visible files (csv when they are all CSV parts; else parquet)."""
    target, entries = _listing(storage, location)
    names = [rel.lower() or target.lower() for rel, _, _ in entries]
    visible = [n for n in names if not any(map(hidden, n.split("/")))]
    csv = visible and all(n.endswith(SUFFIXES["csv"]) for n in visible)
    return "csv" if csv else "parquet"


def list_parts(storage: Storage, location: str, fmt: str) -> list[Part]:
    """The data files a read of `location` covers, in read order (see the module docstring).

    Raises FileNotFoundError when there is no data there, DataReadError for a folder that mixes
    formats or holds files that are not data."""
    if fmt not in SUFFIXES:
        raise DataReadError(f"unknown data format {fmt!r}; use parquet or csv")
    target, entries = _listing(storage, location)
    if entries and entries[0][0] == "":  # the location is a file: read it, whatever its name
        return [Part(target, entries[0][2])]
    parts = _select(target, entries, fmt)
    if not target.startswith("s3://"):
        for part in parts:  # every file, not just the folder, stays inside the allowed roots
            storage.resolve(part.uri)
    return parts


def _listing(storage: Storage, location: str) -> tuple[str, list[tuple[str, str, int]]]:
    """(resolved location, its files as (relative path, uri, size)); a file is the one entry
    ("", uri, size)."""
    target = storage.resolve(location)
    if target.startswith("s3://"):
        try:
            objects = storage.list_objects(target)
        except Exception as exc:  # botocore: timeouts, refused connections, access denied
            raise DataReadError(f"{target}: cannot list the batch: {describe_error(exc)}") from None
        if not objects:
            raise FileNotFoundError(f"no data at {target}")
        if len(objects) == 1 and objects[0][0] == target:
            return target, [("", target, objects[0][1])]
        base = target.rstrip("/") + "/"
        return target, [(uri[len(base) :], uri, size) for uri, size in objects]
    if os.path.isfile(target):
        return target, [("", target, os.path.getsize(target))]
    if not os.path.isdir(target):
        raise FileNotFoundError(f"no data at {target}")
    return target, _walk(target)


def _walk(root: str) -> list[tuple[str, str, int]]:
    """(relative path, path, size) of every file under root; hidden folders are not entered
    and a folder reached twice through symlinks is read once."""
    found, seen = [], set()
    for folder, subfolders, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders[:] = []
            continue
        seen.add(real)
        subfolders[:] = sorted(d for d in subfolders if not hidden(d))
        relative = os.path.relpath(folder, root)
        for name in files:
            path = os.path.join(folder, name)
            rel = name if relative == "." else f"{relative}/{name}".replace(os.sep, "/")
            found.append((rel, path, os.path.getsize(path) if os.path.isfile(path) else -1))
    return sorted(found)


def _select(root: str, entries: Sequence[tuple[str, str, int]], fmt: str) -> list[Part]:
    parts, foreign, unexpected, skipped = [], [], [], []
    others = [s for f, suffixes in SUFFIXES.items() if f != fmt for s in suffixes]
    for rel, uri, size in entries:
        segments = rel.split("/")
        if any(hidden(s) for s in segments):
            skipped.append(rel)
            continue
        name = segments[-1].lower()
        if name.endswith(SUFFIXES[fmt]) and size >= 0:
            parts.append(Part(uri, size, _partition(segments[:-1])))
        elif name.endswith(tuple(others)):
            foreign.append(rel)
        else:
            unexpected.append(rel)
    if foreign:
        other = "csv" if fmt == "parquet" else "parquet"
        own = f" ({some([_relative(root, p.uri) for p in parts])})" if parts else ""
        raise DataReadError(
            f"{root} mixes {fmt} files{own} and {other} files ({some(foreign)}); a batch is "
            f"one format (data.format: {fmt}): move the {other} files out or convert them"
        )
    if unexpected:
        raise DataReadError(
            f"{root} holds files that are not {fmt} parts ({some(unexpected)}); a batch folder "
            f"holds only {' / '.join(SUFFIXES[fmt])} files — names starting with '.' or '_' "
            "(_SUCCESS, _temporary/, .part-*, *.crc) are skipped"
        )
    if not parts:
        note = f" ({len(skipped)} hidden file(s) skipped: {some(skipped)})" if skipped else ""
        raise FileNotFoundError(f"no {fmt} files in folder {root}{note}")
    return parts


def _partition(folders: Sequence[str]) -> tuple[tuple[str, str | None], ...]:
    pairs = []
    for folder in folders:
        key, sep, value = folder.partition("=")
        if sep and key:
            text = unquote(value)
            pairs.append((key, None if text == _HIVE_NULL else text))
    return tuple(pairs)


def _relative(root: str, uri: str) -> str:
    return uri[len(root.rstrip("/")) + 1 :] if uri.startswith(root) else uri


def some(names: Sequence[str], limit: int = 3) -> str:
    """The first few names of a list, and how many more: for messages."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def describe_error(exc: BaseException) -> str:
    """The reason, in words; timeouts say which deadline they hit."""
    name = type(exc).__name__
    if name in ("ReadTimeoutError", "ConnectTimeoutError", "ConnectionClosedError") or (
        name == "EndpointConnectionError"
    ):
        from airflow_mlops_provider.core.deadlines import io_deadline

        return f"no answer from storage within the I/O deadline ({io_deadline().describe()}): {exc}"
    text = str(exc).strip() or name
    return text.replace("<Buffer>", "the file")
