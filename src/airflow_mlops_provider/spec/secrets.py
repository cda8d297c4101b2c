"""The secrets policy: a pipeline YAML never holds a credential, and nothing shows one.

A YAML is committed, rendered in the Airflow UI (the DAG docs embed it) and copied into logs;
a token pasted into it is leaked the moment it is saved. So the loader refuses values that
look like credentials — known token formats anywhere, `user:password@` in any URI, and under
a name that says password/secret/token/key a value that looks like one — naming the field
and where the secret belongs instead (an Airflow connection, or `kubernetes.secret_env` for
the trainer pod), without ever repeating the value. `mask_text` hides what looks like a
secret in text shown to people (the DAG docs), as a second line of defence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MASK = "****"
WHERE_SECRETS_GO = (
    "secrets belong in an Airflow connection (connections.*) or, for the trainer pod, in "
    "training.kubernetes.secret_env as {NAME: secret-name/key}; remove it from the YAML and "
    "rotate it (the file may already be in version control)"
)

# Known credential formats; each is specific enough to be a secret wherever it appears.
TOKEN_PATTERNS = {
    "an AWS access key id": re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"),
    "a Slack token": re.compile(r"\bxox[abprsoe]-[A-Za-z0-9-]{10,}"),
    "a Slack webhook URL": re.compile(r"hooks\.slack\.com/services/T[A-Za-z0-9]+/[A-Za-z0-9/]+"),
    "a GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})"),
    "a Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "an OpenAI-style API key": re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}"),
    "a JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}
# scheme://user:password@host — the password group is what gets masked.
URI_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)(?P<secret>[^/\s@]+)@")
# A name that says its value is a credential.
PASSWORD_NAME = re.compile(r"PASSWORD|PASSWD|PASSPHRASE", re.I)
SECRET_NAME = re.compile(
    r"SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH|_KEY$", re.I
)
# Quick rejects for masking a whole text at each DAG parse, where the regular expressions
# cost ~0.2 ms each on a 4 KB YAML and `in` a few µs: every token format above contains one
# of these literal markers, and every credential name one of these words (or, in a quoted
# key, a backslash escape may spell it). A text with none of them has nothing to mask.
TOKEN_MARKERS = (
    *("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "xox", "hooks.slack.com"),
    *("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "AIza", "sk-", "eyJ", "-----BEGIN "),
)
NAME_WORDS = ("pass", "secret", "token", "key", "credential", "auth", "\\")
MIN_SECRET_LENGTH = 12
TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9_\-.+=/~]+")
MIN_ENTROPY_BITS = 3.0


@dataclass(frozen=True)
class Finding:
    loc: tuple[str | int, ...]
    kind: str

    def message(self) -> str:
        return f"looks like {self.kind} pasted as a value (not shown here); {WHERE_SECRETS_GO}"


def find_secrets(data: Any, loc: tuple[str | int, ...] = ()) -> Iterator[Finding]:
    """Every value in the YAML tree that looks like a credential, with its key path."""
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, str) and isinstance(key, str):
                named = _named_secret(key, value)
                if named:
                    yield Finding((*loc, key), named)
                    continue
            yield from find_secrets(value, (*loc, key))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from find_secrets(item, (*loc, index))
    elif isinstance(data, str):
        kind = secret_kind(data)
        if kind:
            yield Finding(loc, kind)


def secret_kind(value: str) -> str | None:
    """What kind of credential `value` contains, or None."""
    for kind, pattern in TOKEN_PATTERNS.items():
        if pattern.search(value):
            return kind
    if "://" in value and URI_PASSWORD.search(value):
        return "a password in a URI (user:password@)"
    return None


def _named_secret(name: str, value: str) -> str | None:
    """A value under a name that says password/secret/token/key, when it looks like one."""
    kind = secret_kind(value)
    if kind:
        return kind
    if not value.strip() or _is_reference(value) or re.search(r"_(FILE|PATH|DIR)$", name, re.I):
        return None  # where a secret is, not the secret
    if PASSWORD_NAME.search(name):
        return f"a password ({name})"
    if SECRET_NAME.search(name) and _looks_random(value):
        return f"a secret ({name})"
    return None


def _is_reference(value: str) -> bool:
    """secret-name/key (a Kubernetes Secret reference) or an ${ENV} / {{ template }}
    placeholder: where a secret comes from, not the secret."""
    return bool(
        re.fullmatch(r"[a-z0-9][-a-z0-9.]*/[-._A-Za-z0-9]+", value)
        or re.fullmatch(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\{\{.*\}\}", value.strip())
    )


def _looks_random(value: str) -> bool:
    """Long, made of token characters only (base64, hex, URL-safe), letters mixed with
    digits, and high per-character entropy: a token — not a word like `customer_id`, a
    query with spaces or brackets, or a path or file name."""
    if len(value) < MIN_SECRET_LENGTH or not TOKEN_CHARACTERS.fullmatch(value):
        return False
    if value.startswith(("/", ".")) or re.search(r"\.[A-Za-z]{2,4}$", value):
        return False
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    counts = [value.count(c) for c in set(value)]
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts)
    return entropy >= MIN_ENTROPY_BITS


def mask_text(text: str) -> str:
    """`text` (a YAML shown in the DAG docs) with anything that looks like a secret replaced
    by ****: known token formats and URI passwords anywhere (comments included), and every
    value whose key says password/secret/token/key, in block or flow style."""
    lowered = text.lower()
    if any(word in lowered for word in NAME_WORDS):
        text = _mask_named_values(text)
    if "://" in text:
        text = URI_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", text)
    if any(marker in text for marker in TOKEN_MARKERS):
        for pattern in TOKEN_PATTERNS.values():
            text = pattern.sub(MASK, text)
    return text


def _mask_named_values(text: str) -> str:
    """Replace the scalar after `name:` when the name says it holds a credential. Works on
    the YAML's tokens, so `env: {API_TOKEN: x}` is masked like a block mapping; a text that
    does not scan is masked line by line instead."""
    import yaml

    spans: list[tuple[int, int]] = []
    try:
        tokens = list(yaml.scan(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except yaml.YAMLError:
        return (
            "\n".join(_mask_named_values(line) for line in text.split("\n"))
            if "\n" in text
            else text
        )
    for key, scalar, value, target in zip(tokens, tokens[1:], tokens[2:], tokens[3:], strict=False):
        if not (
            isinstance(key, yaml.KeyToken)
            and isinstance(scalar, yaml.ScalarToken)
            and isinstance(value, yaml.ValueToken)
            and isinstance(target, yaml.ScalarToken)
        ):
            continue
        named = PASSWORD_NAME.search(scalar.value) or SECRET_NAME.search(scalar.value)
        if named and target.value and not _is_reference(target.value):
            spans.append((target.start_mark.index, target.end_mark.index))
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + MASK + text[end:]
    return text
