"""A corpus of broken pipeline YAMLs (tests/fixtures/bad_yaml/) parsed the ways Airflow and CI
parse them: a DagBag over the corpus plus one good pipeline, and `airflow-mlops validate`.

Every file must give a clear error naming file and line (each fixture's header says which
message and line, `# class:` which class of mistake it stands for, and `# hidden:` a secret the
error must never show), none may execute code (python tags would create marker files), none
may hide the good pipeline, and parsing the whole corpus stays bounded in memory (measured in
a subprocess with resource.getrusage; the time is recorded, never asserted).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_mlops_provider.cli import main as cli_main
from airflow_mlops_provider.factory import loader as factory_loader
from airflow_mlops_provider.factory.loader import load_pipelines

from .reliability_record import record

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "bad_yaml"
BIG = "99_fifty_megabytes.yaml"
GOOD_DAGS = {"churn__training", "churn__monitoring", "churn__rollback", "churn__health"}
FIXTURES = sorted(p.name for p in CORPUS.glob("*.yaml"))


def header(path: Path) -> dict[str, str]:
    """The fixture's leading `# key: value` lines (bad, expect, line, class, hidden)."""
    fields = {}
    for raw in path.read_bytes().split(b"\n", 6)[:6]:
        line = raw.decode("utf-8", "replace")
        if not line.startswith("# ") or ": " not in line:
            break
        key, value = line[2:].split(": ", 1)
        fields[key] = value
    return fields


def expectation(path: Path) -> tuple[str, int]:
    """(message fragment, line) from the fixture's `# expect:` and `# line:` header."""
    fields = header(path)
    return fields["expect"], int(fields["line"])


def classes() -> dict[str, int]:
    """Fixtures per class of mistake (`# class:`; the first corpus's files have none)."""
    counts: dict[str, int] = {}
    for name in FIXTURES:
        klass = header(CORPUS / name).get("class", "structure, types and rules")
        counts[klass] = counts.get(klass, 0) + 1
    return counts


@pytest.fixture(scope="module")
def dags_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus as a dags folder beside the good example pipeline and the loader; python
    tags point at a marker folder; the 50 MB file is generated here, not committed."""
    project = tmp_path_factory.mktemp("bad-yaml")
    folder, markers = project / "dags", project / "markers"
    folder.mkdir()
    markers.mkdir()
    for fixture in CORPUS.glob("*.yaml"):
        data = fixture.read_bytes().replace(b"@MARKER@", str(markers).encode())
        (folder / fixture.name).write_bytes(data)
    with (folder / BIG).open("w") as big:
        big.write("# bad: 50 MB\n# expect: a pipeline YAML may be at most 1000000\n# line: 1\n")
        big.write("pipeline: big\ndescription: |\n")
        line = "  " + "x" * 1022 + "\n"
        for _ in range(50 * 1024):
            big.write(line)
    shutil.copy(ROOT / "dags" / "churn.yaml", folder)
    shutil.copy(ROOT / "dags" / "pipelines.py", folder)
    return folder


@pytest.fixture(scope="module")
def dagbag(dags_folder: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(dags_folder))


def test_corpus_is_large_and_varied() -> None:
    assert len(FIXTURES) >= 90
    assert all(expectation(CORPUS / name)[0] for name in FIXTURES)
    assert len(classes()) >= 8


@pytest.mark.parametrize("name", [*FIXTURES, BIG])
def test_each_bad_file_becomes_its_config_error_dag(name: str, dagbag, dags_folder: Path) -> None:
    expect, line = expectation(dags_folder / name)
    dag = dagbag.dags[f"{Path(name).stem}__config_error"]
    assert f"{dags_folder / name}:{line}:" in dag.doc_md, dag.doc_md
    assert expect in dag.doc_md, dag.doc_md
    assert name in dag.description and dag.tags == {"mlops", "config-error"}
    hidden = header(dags_folder / name).get("hidden")
    assert hidden is None or (hidden not in dag.doc_md and hidden not in dag.description)


def test_bad_files_hide_nothing_and_run_nothing(dagbag, dags_folder: Path) -> None:
    assert dagbag.import_errors == {}
    errors = {d for d in dagbag.dags if d.endswith("__config_error")}
    assert set(dagbag.dags) == GOOD_DAGS | errors
    assert len(errors) == len(FIXTURES) + 1  # one per bad file, the 50 MB one included
    assert list((dags_folder.parent / "markers").iterdir()) == []  # no python tag ran


def test_validate_cli_reports_every_file(
    dags_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli_main(["validate", str(dags_folder)])
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == 1
    for name in [*FIXTURES, BIG]:
        expect, line = expectation(dags_folder / name)
        assert f"{dags_folder / name}:{line}:" in text and expect in text, name
        hidden = header(dags_folder / name).get("hidden")
        assert hidden is None or hidden not in text, name
    assert list((dags_folder.parent / "markers").iterdir()) == []


def test_an_unforeseen_build_failure_stays_in_its_file(
    dags_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: should a valid spec ever fail to build (a bug, an Airflow limit the
    spec does not know), only that file's DAGs become a config error. The failure is injected
    because no valid input is known to cause one (the tag-length case is now validated)."""
    for name in ("churn.yaml", "zz_twin_a.yaml"):
        shutil.copy(dags_folder / name, tmp_path / name)
    text = (tmp_path / "zz_twin_a.yaml").read_text()
    (tmp_path / "zz_twin_a.yaml").write_text(text.replace("pipeline: twin", "pipeline: boom"))
    real = factory_loader.build_dags

    def build(spec, *args, **kwargs):
        if spec.pipeline == "boom":
            raise RuntimeError("simulated builder bug")
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(factory_loader, "build_dags", build)
    dags = {d.dag_id: d for d in load_pipelines({}, tmp_path)}
    assert set(dags) == GOOD_DAGS | {"zz_twin_a__config_error"}
    assert "building the DAGs failed: RuntimeError: simulated builder bug" in (
        dags["zz_twin_a__config_error"].doc_md
    )


MEASURE = """
import json, resource, sys, time
from pathlib import Path
from airflow_mlops_provider.factory.loader import load_pipelines
from airflow_mlops_provider.spec import load_pipeline_file, pipeline_files
folder = Path(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
dags = load_pipelines({}, folder)
total = time.perf_counter() - start
slowest = (0.0, "")
for path in pipeline_files(folder):
    t = time.perf_counter()
    try:
        load_pipeline_file(path)
    except Exception:
        pass
    slowest = max(slowest, (time.perf_counter() - t, path.name))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"dags": len(dags), "parse_s": total, "slowest_s": slowest[0],
                  "slowest_file": slowest[1], "rss_before_kib": before, "rss_peak_kib": after}))
"""


def test_parsing_the_corpus_is_bounded(dags_folder: Path, request: pytest.FixtureRequest) -> None:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(dags_folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert measured["dags"] == len(GOOD_DAGS) + len(FIXTURES) + 1
    assert measured["rss_peak_kib"] < 1024 * 1024  # < 1 GiB, generously
    files = len(FIXTURES) + 1
    record(
        "bad-yaml",
        scenario=f"{files} malformed pipeline YAMLs + 1 good one in one dags folder",
        test=request.node.nodeid,
        outcome={
            "bad files": files,
            "classes of mistake": len(classes()),
            "files per class": classes(),
            "config_error DAGs": len(FIXTURES) + 1,
            "good pipeline DAGs": len(GOOD_DAGS),
            "import errors": 0,
            "python tags executed": 0,
            "parse all (s)": round(measured["parse_s"], 2),
            "slowest file (ms)": round(measured["slowest_s"] * 1000, 1),
            "slowest": measured["slowest_file"],
            "RSS after imports (MiB)": round(measured["rss_before_kib"] / 1024),
            "peak RSS (MiB)": round(measured["rss_peak_kib"] / 1024),
            "RSS above the post-import peak while parsing (MiB)": round(
                (measured["rss_peak_kib"] - measured["rss_before_kib"]) / 1024, 1
            ),
        },
    )


def test_file_names_that_sanitise_alike_keep_separate_error_dags(tmp_path: Path) -> None:
    (tmp_path / "team-a.yaml").write_text("pipeline: [\n")
    (tmp_path / "team_a.yaml").write_text("pipeline: 1\n")
    dags = {d.dag_id: d for d in load_pipelines({}, tmp_path)}
    assert len(dags) == 2 and all(d.endswith("__config_error") for d in dags)
    docs = " ".join(d.doc_md for d in dags.values())
    assert "team-a.yaml:" in docs and "team_a.yaml:" in docs
