"""The secrets policy: a credential pasted into a pipeline YAML is refused at its key, the
error never repeats it, and text shown to people (the DAG docs) has it masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_mlops_provider.spec import SpecError, load_spec
from airflow_mlops_provider.spec.secrets import (
    MASK,
    NAME_WORDS,
    PASSWORD_NAME,
    SECRET_NAME,
    TOKEN_PATTERNS,
    find_secrets,
    mask_text,
    secret_kind,
)

PARAMS = "  params:"
# Made-up credentials in the real formats (none of them is live).
AWS_KEY = "ASIAQWERTYUIOPASDFGH"
SLACK = "xoxp-2468013579-1357924680-abcdefABCDEF"
GITHUB = "ghs_" + "Zx9" * 12
KEY_BLOCK = "-----BEGIN OPENSSH PRIVATE KEY-----"
TOKEN = "q7Hf2kL9xW4mZ8pR3tY6"


@pytest.mark.parametrize(
    ("edit", "path", "secret", "kind"),
    [
        pytest.param(
            ("source: include/demo/data/batches/dt={{ ds }}",
             f"source: s3://{AWS_KEY}@lake/batches/dt={{{{ ds }}}}"),
            "data.source", AWS_KEY, "an AWS access key id", id="aws-key-in-uri",
        ),
        pytest.param(
            ("description: Customer churn", f"description: ask {SLACK} about Customer churn"),
            "description", SLACK, "a Slack token", id="slack-token-in-text",
        ),
        pytest.param(
            ("tags: [demo]", f"tags: [demo, {GITHUB}]"),
            "tags[1]", GITHUB, "a GitHub token", id="github-token-in-list",
        ),
        pytest.param(
            ("owner: ml-platform", f"owner: '{KEY_BLOCK} abc'"),
            "owner", KEY_BLOCK, "a private key", id="private-key-block",
        ),
        pytest.param(
            ("  labels: include/demo/data/labels/dt={{ ds }}",
             "  labels: https://etl:Winter2026@files.example.com/labels/dt={{ ds }}"),
            "monitoring.labels", "Winter2026", "a password in a URI", id="uri-password",
        ),
        pytest.param(
            (PARAMS, f"  env: {{WANDB_API_KEY: {TOKEN}}}\n" + PARAMS),
            "training.env.WANDB_API_KEY", TOKEN, "a secret (WANDB_API_KEY)", id="named-api-key",
        ),
        pytest.param(
            (PARAMS, "  env: {AWS_SECRET_ACCESS_KEY: wJa1rXUtnFEMI/K7MDENG/bPxRfiCYzXAMPLEKEY}\n"
             + PARAMS),
            "training.env.AWS_SECRET_ACCESS_KEY", "wJa1rXUtnFEMI", "a secret", id="aws-secret-key",
        ),
        pytest.param(
            (PARAMS, "  env: {DB_PASSWORD: tiger}\n" + PARAMS),
            "training.env.DB_PASSWORD", "tiger", "a password (DB_PASSWORD)", id="named-password",
        ),
    ],
)  # fmt: skip
def test_a_pasted_secret_is_refused_without_repeating_it(
    example, edit: tuple[str, str], path: str, secret: str, kind: str
) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(example.variant(edit)[0])
    text = str(info.value)
    assert secret not in text
    problem = next(p for p in info.value.problems if p.path == path)
    assert f"looks like {kind}" in problem.message
    assert "Airflow connection" in problem.message and "secret_env" in problem.message


def test_other_errors_about_a_secret_value_do_not_show_it(example) -> None:
    """The schedule check quotes a bad value in its message; a secret is masked there too."""
    with pytest.raises(SpecError) as info:
        load_spec(example.variant(('schedule: "@weekly"', f"schedule: {SLACK}"))[0])
    assert SLACK not in str(info.value)
    assert "the value is not shown: it looks like a secret" in str(info.value)


@pytest.mark.parametrize(
    "env",
    [
        "{SORT_KEY: customer_id}",  # a name with KEY, a word for value
        "{DB_PASSWORD_FILE: /run/secrets/db}",  # where the password is, not the password
        "{HF_TOKEN: '${HF_TOKEN}'}",  # a placeholder the shell fills
        "{PRIMARY_KEY_COLUMNS: 'a,b'}",
        "{S3_KEY: models/v2/weights.bin}",  # an object key: a file name
        "{AUTH_ERRORS_QUERY: 'sum(rate(auth_errors_total[5m]))'}",  # brackets: no token
    ],
)
def test_names_alone_do_not_make_a_secret(example, env: str) -> None:
    file, _ = example.variant((PARAMS, f"  env: {env}\n" + PARAMS))
    load_spec(file)


def test_secret_references_are_not_secrets() -> None:
    data = {"training": {"kubernetes": {"secret_env": {"DB_PASSWORD": "db-creds/password"}}}}
    assert list(find_secrets(data)) == []


def test_masking_text_for_people() -> None:
    text = (
        "training:\n"
        f"  env: {{API_TOKEN: {TOKEN}, THREADS: '8'}}\n"
        "  kubernetes:\n"
        "    secret_env: {DB_PASSWORD: db-creds/password}\n"
        f'db_password: "{TOKEN}"\n'
        "uri: https://etl:Winter2026@files.example.com/x\n"
        f"# rotated: {SLACK}\n"
    )
    masked = mask_text(text)
    for secret in (TOKEN, "Winter2026", SLACK):
        assert secret not in masked
    assert f"API_TOKEN: {MASK}" in masked and "THREADS: '8'" in masked
    assert "DB_PASSWORD: db-creds/password" in masked  # a reference stays readable
    assert f"https://etl:{MASK}@files.example.com/x" in masked


def test_masking_finds_a_name_spelt_with_escapes() -> None:
    """The quick pre-check must not skip a key that names a credential through escapes."""
    masked = mask_text(f'env: {{"DB_PASS\\x57ORD": {TOKEN}, "API_\\u0054OKEN": {TOKEN}}}\n')
    assert TOKEN not in masked and masked.count(MASK) == 2


def test_masking_leaves_a_text_without_secrets_as_it_is() -> None:
    text = (Path(__file__).parents[3] / "dags" / "churn.yaml").read_text("utf-8")
    assert mask_text(text) == text


@pytest.mark.parametrize("kind", list(TOKEN_PATTERNS))
def test_each_token_format_is_named(kind: str) -> None:
    samples = {
        "an AWS access key id": AWS_KEY,
        "a Slack token": SLACK,
        "a Slack webhook URL": "https://hooks.slack.com/services/T0001/B0002/XyZ",
        "a GitHub token": GITHUB,
        "a Google API key": "AIza" + "Sy9" * 11 + "xy",
        "an OpenAI-style API key": "sk-proj-" + "Ab3" * 8,
        "a JSON web token": "eyJhbGciOiJI.eyJzdWIiOiIx.c2ln",
        "a private key": KEY_BLOCK,
    }
    assert secret_kind(f"see {samples[kind]} here") == kind
    assert MASK in mask_text(f"note: {samples[kind]}\n")


@pytest.mark.parametrize("pattern", [PASSWORD_NAME, SECRET_NAME])
def test_every_credential_name_contains_a_quick_reject_word(pattern) -> None:
    """mask_text scans a text's keys only when it contains one of NAME_WORDS."""
    for alternative in pattern.pattern.split("|"):
        name = alternative.replace("_?", "_").rstrip("$").lower()
        assert any(word in name for word in NAME_WORDS), alternative
