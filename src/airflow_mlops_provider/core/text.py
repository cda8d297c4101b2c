"""Texts for people: lists, mappings and numbers as words, lines cut at word boundaries.

Every message a person reads (task logs, Slack, the demo's console, audit summaries, the
pipelines view) goes through these instead of `str(list)` / `repr(dict)` / `text[:110]`, so
nobody reads `['request_retraining', 'alert']` or a word cut in half.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

ELLIPSIS = "…"


def human_list(items: Iterable[Any], *, conjunction: str = "and", limit: int | None = None) -> str:
    """["a"] → "a"; ["a", "b", "c"] → "a, b and c"; with limit=2 → "a, b and 1 more"."""
    words = [human_value(item) for item in items]
    if limit is not None and len(words) > limit:
        return f"{', '.join(words[:limit])} {conjunction} {len(words) - limit} more"
    if len(words) <= 1:
        return "".join(words) or "none"
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def human_mapping(mapping: Mapping[str, Any], *, separator: str = ", ") -> str:
    """{"champion": "2", "previous_champion": "1"} → "champion 2, previous champion 1".

    Empty values (None, "", [], {}) are left out: a summary says what is there."""
    parts = [
        f"{human_key(key)} {human_value(value)}"
        for key, value in mapping.items()
        if value not in (None, "", [], {})
    ]
    return separator.join(parts) or "nothing"


def human_key(key: str) -> str:
    """ "previous_champion" → "previous champion"."""
    return str(key).replace("_", " ")


def human_value(value: Any) -> str:
    """One value as a person writes it: 0.8123 → "0.812", True → "yes", lists and mappings
    spelled out, None → "none"."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return number(value)
    if isinstance(value, Mapping):
        return human_mapping(value)
    if isinstance(value, list | tuple | set | frozenset):
        return human_list(value)
    return str(value)


def number(value: float | int | None, digits: int = 3) -> str:
    """3 significant digits, no float noise: 0.81234 → "0.812", 72.0 → "72", None → "n/a"."""
    if value is None:
        return "n/a"
    if isinstance(value, int) or (math.isfinite(value) and float(value).is_integer()):
        return str(int(value))
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}g}"


def percent(fraction: float | None, digits: int = 3) -> str:
    """0.25 → "25%"; 0.1234 → "12.3%"."""
    return "n/a" if fraction is None else f"{number(fraction * 100, digits)}%"


def shorten(text: str, width: int) -> str:
    """At most `width` characters, cut at a word boundary with an ellipsis, never mid-word
    (a single word longer than `width` is the one exception, cut with the ellipsis)."""
    text = " ".join(str(text).split())
    if len(text) <= width:
        return text
    cut = text[: width - len(ELLIPSIS) + 1]
    head = cut.rsplit(" ", 1)[0] if " " in cut else cut[: width - len(ELLIPSIS)]
    return head.rstrip(" ,;:") + ELLIPSIS


def wrap(text: str, width: int = 100, indent: str = "") -> str:
    """Wrap each paragraph at word boundaries; continuation lines get `indent`."""
    return "\n".join(
        textwrap.fill(
            line,
            width=width,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        or line
        for line in str(text).splitlines()
    )
