"""Which stored file a report URL may name, and how it is sent: Airflow-free.

A URL names a file by its path below the pipeline's root in storage. Only plain names are
accepted (letters, digits, `_`, `-`, `.`, never a leading dot, so no `..`, hidden or
temporary files), only report types (HTML, JSON), and a local file must really be below the
root once symlinks are resolved. HTML reports are sent with a Content-Security-Policy that
allows no script, no network access and no form, and sandboxes the page.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_mlops_provider.core.layout import RUNS

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
}
_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}")
MAX_BYTES = 50_000_000  # a report is small; anything bigger is not served

# Reports are documents: inline styles and SVG, nothing else. `sandbox` gives the page an
# opaque origin, so even an injected script could not read the user's Airflow session.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox allow-popups"
)
# The plugin's own pages (the pipelines view): the same, without the sandbox, so its links
# can open Airflow pages in the UI around it.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class NotServed(Exception):
    """The request names nothing the plugin serves; `status` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Target:
    """A validated request for one file: its location in storage and the DAG it belongs to
    (None: a pipeline-wide file such as monitoring/latest.json)."""

    location: str
    content_type: str
    dag_id: str | None


def target(storage: Any, root: str, relative: str, dag_ids: list[str]) -> Target:
    """The file `relative` (URL path below the pipeline's root) names, or NotServed."""
    parts = relative.split("/")
    bad = [p for p in parts if not _PART.fullmatch(p)]
    if bad or not parts:
        raise NotServed(404, "no such report")
    suffix = Path(parts[-1]).suffix
    if suffix not in CONTENT_TYPES:
        raise NotServed(404, "only HTML and JSON reports are served")
    dag_id = None
    if parts[0] == RUNS:
        if len(parts) < 4 or parts[1] not in dag_ids:
            raise NotServed(404, "no such report")
        dag_id = parts[1]
    location = storage.join(root, *parts)
    if not location.startswith("s3://"):
        _check_local(root, location)
    return Target(location, CONTENT_TYPES[suffix], dag_id)


def _check_local(root: str, location: str) -> None:
    """Below the root after resolving symlinks, and a regular file."""
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(location))
    if not real.is_relative_to(real_root):
        raise NotServed(404, "no such report")
    if not real.is_file():
        raise NotServed(404, "no such report")
    if real.stat().st_size > MAX_BYTES:
        raise NotServed(413, "the report is too large to serve")


REPORT_HEADERS = {**SECURITY_HEADERS, "Content-Security-Policy": REPORT_CSP}
PAGE_HEADERS = {**SECURITY_HEADERS, "Content-Security-Policy": PAGE_CSP}
