"""The images, read without a Docker engine: what the Dockerfiles install, as whom, from where.

include/trainer/Dockerfile's default target trains AND runs the step pods' `airflow-mlops
run-step` (the model steps default to training.image); the root Dockerfile is the Airflow
image. Both install through constraints/constraints-3.11.txt. That the trainer image's
environment really runs a step is checked by tests/image/check_step_image.py (it builds that
environment, minutes: not part of the suite).
"""

from __future__ import annotations

import configparser
import importlib.util
import shlex
from pathlib import Path

import pytest

from airflow_mlops_provider import cli
from airflow_mlops_provider.execution.kubernetes import step_pod
from airflow_mlops_provider.spec import StepPod
from airflow_mlops_provider.spec.compute import STEPS

ROOT = Path(__file__).resolve().parents[2]
TRAINER = ROOT / "include" / "trainer" / "Dockerfile"
AIRFLOW = ROOT / "Dockerfile"
CONSTRAINTS = "constraints/constraints-3.11.txt"


def _checker():
    path = ROOT / "tests" / "image" / "check_step_image.py"
    spec = importlib.util.spec_from_file_location("check_step_image", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHECK = _checker()


def target(dockerfile: Path) -> list[tuple[str, str, str]]:
    """The default target's instructions, the stages it is built FROM included."""
    return CHECK.target_chain(CHECK.instructions(dockerfile))


def pip_installs(chain: list[tuple[str, str, str]]) -> list[list[str]]:
    """Every `pip install ...` of the RUN lines, as argument lists."""
    found = []
    for _, keyword, rest in chain:
        if keyword == "RUN":
            for command in rest.split("&&"):
                words = shlex.split(command)
                if words[:2] == ["pip", "install"]:
                    found.append(words[2:])
    return found


def copied(chain: list[tuple[str, str, str]]) -> dict[str, str]:
    """Image path -> build-context path of every COPY (files named one by one)."""
    found = {}
    for _, keyword, rest in chain:
        if keyword == "COPY":
            *sources, dest = [a for a in shlex.split(rest) if not a.startswith("--")]
            for source in sources:
                where = dest + Path(source).name if dest.endswith("/") else dest
                found[where] = source
    return found


def constraint_file(args: list[str], chain: list[tuple[str, str, str]]) -> str | None:
    """The build-context path of the `-c` file of one pip install."""
    if "-c" not in args:
        return None
    image_path = args[args.index("-c") + 1]
    files = copied(chain)
    if image_path in files:
        return files[image_path]
    folder = next((p for p in files if image_path.startswith(p.rstrip("/") + "/")), None)
    return files[folder] + image_path[len(folder.rstrip("/")) :] if folder else None


@pytest.mark.parametrize("dockerfile", [TRAINER, AIRFLOW], ids=["trainer", "airflow"])
def test_every_pip_install_goes_through_the_repos_constraints(dockerfile: Path) -> None:
    chain = target(dockerfile)
    installs = pip_installs(chain)
    assert installs, f"{dockerfile} installs nothing with pip"
    for args in installs:
        assert constraint_file(args, chain) == CONSTRAINTS, (
            f"{dockerfile.relative_to(ROOT)}: `pip install {' '.join(args)}` is not constrained "
            f"by {CONSTRAINTS}"
        )


def test_the_trainer_image_installs_the_provider_with_the_trainers_pins_in_one_resolve() -> None:
    chain = target(TRAINER)
    files = copied(chain)
    with_provider = [args for args in pip_installs(chain) if "/opt/provider" in args]
    assert len(with_provider) == 1, "the default target must install the provider (/opt/provider)"
    (args,) = with_provider
    assert files[args[args.index("-r") + 1]] == "include/trainer/requirements.txt"
    assert "--no-build-isolation" in args  # pinned setuptools, as `make install`
    assert files["/opt/provider/setup.cfg"] == "setup.cfg"
    assert ("/opt/provider/src", "src") in files.items()


@pytest.mark.parametrize(
    ("dockerfile", "user"),
    [(TRAINER, "1000:1000"), (AIRFLOW, "airflow")],
    ids=["trainer", "airflow"],
)
def test_the_image_runs_as_its_non_root_user(dockerfile: Path, user: str) -> None:
    """The trainer's USER is numeric (runAsNonRoot can only verify a numeric one) and equal to
    the platform's default run_as_user; the Airflow image keeps the base image's user."""
    chain = target(dockerfile)
    last_user = [rest for _, keyword, rest in chain if keyword == "USER"][-1]
    assert last_user == user
    after = chain[max(i for i, (_, kw, _) in enumerate(chain) if kw == "USER") + 1 :]
    assert not [rest for _, kw, rest in after if kw == "RUN"], "a RUN after the last USER"


def test_the_trainer_stage_alone_is_a_target_too() -> None:
    stages = [rest for _, keyword, rest in CHECK.instructions(TRAINER) if keyword == "FROM"]
    assert stages == ["python:3.11-slim-bookworm AS trainer", "trainer AS steps"]
    trainer_only = [i for i in CHECK.instructions(TRAINER) if i[0] == "trainer"]
    assert [r for _, kw, r in trainer_only if kw == "USER"] == ["1000:1000"]


def test_the_trainers_pins_agree_with_the_constraints() -> None:
    """Else the build fails (one resolve) or, worse, saves models with other versions than
    the platform loads them with."""
    pins = dict(
        line.split("==")
        for line in (ROOT / CONSTRAINTS).read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    requirements = (ROOT / "include" / "trainer" / "requirements.txt").read_text().splitlines()
    for line in requirements:
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            assert pins.get(name, version) == version, f"{name}: {version} vs {pins[name]}"


@pytest.mark.parametrize("dockerfile", [TRAINER, AIRFLOW], ids=["trainer", "airflow"])
def test_everything_copied_is_in_the_build_context(dockerfile: Path) -> None:
    """Both build from the repository's root: every COPY source exists there and is not
    excluded by .dockerignore."""
    ignored = (ROOT / ".dockerignore").read_text().split()
    for source in copied(target(dockerfile)).values():
        assert (ROOT / source).exists(), f"{dockerfile.relative_to(ROOT)} copies missing {source}"
        assert not [i for i in ignored if source == i or source.startswith(i + "/")], source


def test_the_step_command_is_the_packages_console_script() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    scripts = dict(
        line.replace(" ", "").split("=")
        for line in cfg["options.entry_points"]["console_scripts"].strip().splitlines()
    )
    assert scripts["airflow-mlops"] == "airflow_mlops_provider.cli:main"
    pod = step_pod(StepPod(image="i"), step="drift", request_uri="s3://b/r.json", pipeline="p",
                   kubernetes_conn_id="k", task_id="t", env={})  # fmt: skip
    assert (pod.cmds, pod.arguments[:2]) == (["airflow-mlops"], ["run-step", "drift"])


@pytest.mark.parametrize("step", list(STEPS))
def test_run_step_accepts_every_step(step: str, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["run-step", step, "--help"])
    assert done.value.code == 0
    assert "--request" in capsys.readouterr().out
