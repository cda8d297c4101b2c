"""The environment is the one that was tested: setup.cfg states ranges for users, and
constraints/constraints-<python>.txt pins what `make test` installs (issue: a new release of a
dependency must never turn main red). `make test-latest` sets MLOPS_UNCONSTRAINED=1 and then
the pin check is skipped there on purpose, the other checks still run."""

from __future__ import annotations

import configparser
import os
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYVER = f"{sys.version_info.major}.{sys.version_info.minor}"
CONSTRAINTS = ROOT / "constraints" / f"constraints-{PYVER}.txt"


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            found[canonicalize_name(name)] = version.strip()
    return found


def requirements() -> list[Requirement]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = cfg["options"]["install_requires"].splitlines()
    for extra in cfg["options.extras_require"].values():
        lines += extra.splitlines()
    return [Requirement(line) for line in lines if line.strip()]


def test_setup_cfg_states_ranges_not_pins() -> None:
    pinned = [str(r) for r in requirements() if any(s.operator == "==" for s in r.specifier)]
    assert pinned == [], (
        f"install_requires/extras are ranges for users; pins go in constraints/: {pinned}"
    )


@pytest.mark.parametrize("path", sorted((ROOT / "constraints").glob("constraints-*.txt")))
def test_every_constraints_file_pins_every_requirement_within_its_range(path: Path) -> None:
    pinned = pins(path)
    python = re.search(r"constraints-(\d+\.\d+)\.txt", path.name).group(1)
    environment = {"python_version": python, "sys_platform": "linux", "extra": "dev"}
    for requirement in requirements():
        if requirement.marker and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{path.name} does not pin {name}; run constraints/generate.sh"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{path.name} pins {name}=={pinned[name]}, outside setup.cfg's {requirement}"
        )
    for tool in ("pip", "setuptools", "wheel"):
        assert tool in pinned, f"{path.name} must pin the installer {tool}"


@pytest.mark.skipif(
    os.environ.get("MLOPS_UNCONSTRAINED") == "1", reason="make test-latest: unpinned on purpose"
)
def test_this_environment_is_the_constrained_one() -> None:
    assert CONSTRAINTS.exists(), f"no {CONSTRAINTS.name}: python {PYVER} is not supported"
    drifted = {}
    for name, version in pins(CONSTRAINTS).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # an extra this venv did not install
        if installed != version:
            drifted[name] = f"{installed} installed, {version} pinned"
    assert drifted == {}, f"not the tested environment (make install): {drifted}"
