"""Contract patterns run with RE2 semantics, so no value can make a check hang.

A backtracking engine (Python's ``re``) takes exponential time on patterns like ``(a+)+$``
against a crafted value; RE2 (used through ``pyarrow.compute.match_substring_regex``) runs in
time linear in the value, and it refuses the constructs that need backtracking. A pattern is
therefore checked when the YAML is validated (`re2_problem`, pure Python, no pyarrow import at
DAG parse time) and evaluated with RE2 when data is validated (`matches`).

Differences from Python's ``re`` a pattern author may meet (docs/data.md, "Patterns"):
no backreferences, lookaround, conditionals, atomic groups or possessive quantifiers; no
``\\Z`` (use ``$``), ``\\u``/``\\U``/``\\N`` escapes (write the character) or flags other than
``i``, ``m`` and ``s``; ``\\d``, ``\\w``, ``\\s`` are ASCII-only; ``$`` matches only at the end of
the value, not before a final newline. Matching is ``re.search``-like: anchor with ``^...$``.
"""

from __future__ import annotations

import re
import re._constants as _sre_constants
import re._parser as _sre_parse
from typing import Any

__all__ = ["matches", "re2_problem"]

_UNSUPPORTED = {
    "GROUPREF": "a backreference",
    "GROUPREF_EXISTS": "a conditional group",
    "ASSERT": "a lookahead or lookbehind",
    "ASSERT_NOT": "a negative lookahead or lookbehind",
    "ATOMIC_GROUP": "an atomic group (?>...)",
    "POSSESSIVE_REPEAT": "a possessive quantifier (*+, ++, ?+)",
}
_ESCAPES = {
    "Z": "\\Z (use $, which RE2 matches only at the end)",
    "u": "a \\u escape (write the character itself)",
    "U": "a \\U escape (write the character itself)",
    "N": "a \\N{...} escape (write the character itself)",
}
_FLAGS = re.compile(r"\(\?([a-zA-Z-]+)[:)]")
_RE2_FLAGS = set("ims-")


def re2_problem(pattern: str) -> str | None:
    """Why RE2 cannot run `pattern` (a Python-valid regex), or None when it can."""
    try:
        tree = _sre_parse.parse(pattern)
    except re.error as exc:
        return f"is not a valid regular expression: {exc}"
    found = _first_unsupported(tree)
    if found is not None:
        return f"uses {found}, which RE2 (linear-time matching) does not support"
    for index, char in _escapes(pattern):
        if char in _ESCAPES:
            return f"uses {_ESCAPES[char]} at position {index}; RE2 does not support it"
    for match in _FLAGS.finditer(pattern):
        if pattern[: match.start()].endswith("\\"):
            continue
        bad = sorted(set(match.group(1)) - _RE2_FLAGS)
        if bad:
            return f"uses the inline flag(s) {''.join(bad)}; RE2 supports only i, m and s"
    return None


def matches(values: Any, pattern: str) -> Any:
    """RE2 search of `pattern` in each value (a pyarrow string array; nulls stay null)."""
    import pyarrow.compute as pc

    return pc.match_substring_regex(values, pattern)


def _first_unsupported(tree: Any) -> str | None:
    for op, argument in tree:
        name = str(op)
        if name in _UNSUPPORTED:
            return _UNSUPPORTED[name]
        for child in _children(op, argument):
            found = _first_unsupported(child)
            if found is not None:
                return found
    return None


def _children(op: Any, argument: Any) -> list[Any]:
    """The sub-patterns of one parsed node (groups, branches, repeats)."""
    c = _sre_constants
    if op is c.SUBPATTERN:
        return [argument[-1]]
    if op is c.BRANCH:
        return list(argument[1])
    if op in (c.MAX_REPEAT, c.MIN_REPEAT):
        return [argument[2]]
    return []


def _escapes(pattern: str) -> list[tuple[int, str]]:
    """(position, letter) of each backslash escape, skipping escaped backslashes."""
    found, index = [], 0
    while index < len(pattern) - 1:
        if pattern[index] == "\\":
            found.append((index, pattern[index + 1]))
            index += 2
        else:
            index += 1
    return found
