"""The dags folder: one bad file never costs the others, through Airflow's real DagBag.

A YAML symlinked into a folder the DAG processor may not enter, a backup copy beside the live
file, two files claiming one pipeline name; and what the DAG docs show of a YAML (secrets
masked, the loader's warnings listed). The unreadable link is real: a mode-000 folder, and
when the tests run as root the parse and `airflow-mlops validate` run without the capabilities
that let root read anything (`setpriv --bounding-set=-dac_override,-dac_read_search`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_mlops_provider.spec.secrets import MASK

from .reliability_record import record

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
GOOD = {"churn__training", "churn__monitoring", "churn__health", "churn__rollback"}
WITHOUT_ROOT_READS = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def dags_folder(base: Path, files: dict[str, str]) -> Path:
    folder = base / "dags"
    folder.mkdir()
    shutil.copy(ROOT / "dags" / "pipelines.py", folder)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def churn(**replace: str) -> str:
    text = (ROOT / "dags" / "churn.yaml").read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def dagbag(folder: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder))


def test_a_backup_copy_never_replaces_the_live_file(tmp_path: Path) -> None:
    old = churn(**{"description: Customer churn": "description: OLD churn"})
    folder = dags_folder(tmp_path, {"churn.yaml": churn(), "churn.bak.yaml": old})
    (folder / ".churn.yaml.swp").write_bytes(b"\x00binary editor state")
    bag = dagbag(folder)
    assert bag.import_errors == {} and set(bag.dags) == GOOD
    assert bag.dags["churn__training"].description.startswith("Customer churn")


def test_two_files_one_name_are_both_errors_and_others_still_load(tmp_path: Path) -> None:
    twin = churn(**{"pipeline: churn": "pipeline: retention"})
    other = churn(**{"pipeline: churn": "pipeline: upsell"})
    bag = dagbag(dags_folder(tmp_path, {"a.yaml": twin, "b.yaml": twin, "upsell.yaml": other}))
    assert bag.import_errors == {}
    assert {d for d in bag.dags if d.startswith("upsell__")} == {
        d.replace("churn", "upsell") for d in GOOD
    }
    assert {d for d in bag.dags if "retention" in d or d.endswith("config_error")} == {
        "a__config_error",
        "b__config_error",
    }
    assert "'retention' is also defined in b.yaml" in bag.dags["a__config_error"].doc_md
    assert "'retention' is also defined in a.yaml" in bag.dags["b__config_error"].doc_md


PARSE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({"dags": sorted(bag.dags), "import_errors": {str(k): v for k, v in
      bag.import_errors.items()}, "doc": bag.dags.get("shared__config_error").doc_md
      if "shared__config_error" in bag.dags else None}))
"""


@pytest.fixture
def unreadable_link() -> Iterator[Path]:
    """dags/shared.yaml → a file in a folder the parsing user cannot enter."""
    base = Path(tempfile.mkdtemp(prefix="mlops-dags-"))
    base.chmod(0o755)
    folder = dags_folder(base, {"churn.yaml": churn()})
    for path in (folder, *folder.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    private = base / "private"
    private.mkdir()
    (private / "shared.yaml").write_text(churn(**{"pipeline: churn": "pipeline: shared"}))
    private.chmod(0o000)
    (folder / "shared.yaml").symlink_to(private / "shared.yaml")
    (base / "airflow-home").mkdir()
    yield folder
    private.chmod(0o700)
    shutil.rmtree(base)


def as_parser(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    """Run so that the private folder is really closed, as it is to a DAG processor."""
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: root would read the private folder")
        args = [*WITHOUT_ROOT_READS, *args]
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)


def test_an_unreadable_link_costs_only_its_own_file(
    unreadable_link: Path, request: pytest.FixtureRequest
) -> None:
    home = unreadable_link.parent / "airflow-home"
    done = as_parser([sys.executable, "-c", PARSE, str(unreadable_link)], home)
    assert done.returncode == 0, done.stderr[-3000:]
    parsed = json.loads(done.stdout.strip().splitlines()[-1])
    assert parsed["import_errors"] == {}
    assert set(parsed["dags"]) == GOOD | {"shared__config_error"}
    assert "shared.yaml:1:1: cannot read: Permission denied" in parsed["doc"]
    record(
        "dags-folder",
        scenario="a pipeline YAML symlinked into a folder the DAG processor may not enter",
        test=request.node.nodeid,
        outcome={
            "import errors": len(parsed["import_errors"]),
            "other pipeline's DAGs built": len(set(parsed["dags"]) & GOOD),
            "config_error DAGs": sum(d.endswith("__config_error") for d in parsed["dags"]),
            "error shown": "cannot read: Permission denied",
        },
    )


def test_validate_reports_an_unreadable_link_without_a_traceback(unreadable_link: Path) -> None:
    home = unreadable_link.parent / "airflow-home"
    cli = Path(sys.executable).parent / "airflow-mlops"
    done = as_parser([str(cli), "validate", str(unreadable_link)], home)
    assert done.returncode == 1
    assert f"{unreadable_link / 'shared.yaml'}:1:1: cannot read: Permission denied" in done.stderr
    assert "Traceback" not in done.stderr and "pipeline churn" in done.stdout


def test_dag_docs_mask_secrets_and_list_warnings(tmp_path: Path) -> None:
    token = "xoxb-1111111111-2222222222-AbCdEfGhIjKl"
    text = churn(
        **{
            "  params:": "  env: {API_KEY_NAME: readonly-reporting}\n  params:",
            "# notifications:": f"# an old token, since rotated: {token}\n# notifications:",
            "dt={{ ds }}": "ts={{ ts_nodash }}",  # no logical date in asset runs: a warning
        }
    )
    bag = dagbag(dags_folder(tmp_path, {"churn.yaml": text}))
    assert bag.import_errors == {}  # a word under a KEY name is no secret: it loads...
    doc = bag.dags["churn__training"].doc_md
    assert "readonly-reporting" not in doc and token not in doc  # ...but the docs mask it
    assert f"API_KEY_NAME: {MASK}" in doc and f"since rotated: {MASK}" in doc
    assert "**Warnings**" in doc and "not for asset-triggered runs" in doc
