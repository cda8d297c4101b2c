"""The `drift` block: defaults, per-feature overrides, and errors naming the field and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_mlops_provider.spec import SpecError, load_spec

EXAMPLE = Path(__file__).resolve().parents[3] / "dags" / "churn.yaml"
DRIFT = "drift:\n  alpha: 0.01\n  correction: bonferroni\n  drift_share: 0.25\n"


def with_drift(tmp_path: Path, block: str) -> Path:
    text = EXAMPLE.read_text()
    assert DRIFT in text
    path = tmp_path / "p.yaml"
    path.write_text(text.replace(DRIFT, block))
    return path


def test_defaults_and_monitoring_prediction_column() -> None:
    spec = load_spec(EXAMPLE)
    assert spec.drift.test == "auto" and spec.drift.correction == "bonferroni"
    assert spec.drift.missing_rate_change == 0.05
    assert spec.drift.compare_settings()["overrides"] == {}
    assert spec.monitoring is not None and spec.monitoring.prediction_column == "prediction"


def test_overrides_and_benjamini_hochberg_load(tmp_path: Path) -> None:
    block = (
        "drift:\n  correction: benjamini_hochberg\n  features:\n"
        "    monthly_charges: {test: psi, threshold: 0.2}\n"
        "    contract: {test: chi2, threshold: 0.001}\n"
    )
    spec = load_spec(with_drift(tmp_path, block))
    assert spec.drift.compare_settings()["overrides"] == {
        "monthly_charges": {"test": "psi", "threshold": 0.2},
        "contract": {"test": "chi2", "threshold": 0.001},
    }


def test_min_effects_and_a_bare_threshold_load(tmp_path: Path) -> None:
    """auto is ks / chi2 at every size, so a threshold without a test is that test's minimum
    effect; min_effect overrides the defaults for the whole check."""
    block = (
        "drift:\n  min_effect: {ks: 0.05, unseen_share: 0.2}\n"
        "  features:\n    contract: {threshold: 0.2}\n"
    )
    settings = load_spec(with_drift(tmp_path, block)).drift.compare_settings()
    assert settings["min_effect"] == {"ks": 0.05, "unseen_share": 0.2}
    assert settings["overrides"] == {"contract": {"threshold": 0.2}}


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            "drift:\n  features:\n    monthly_charge: {test: psi}\n",
            "drift.features.monthly_charge: 'monthly_charge' is not a declared feature",
        ),
        (
            "drift:\n  features:\n    contract: {test: ks}\n",
            "drift.features.contract.test: ks does not apply to categorical feature",
        ),
        ("drift:\n  test: wasserstein\n", "drift.test: wasserstein does not apply to categorical"),
        ("drift:\n  features:\n    contract: {}\n", "give test, threshold or both"),
        ("drift:\n  correction: holm\n", "benjamini_hochberg"),
        ("drift:\n  min_effect: {ks: 0}\n", "min_effect ['ks'] must be positive"),
        ("drift:\n  min_effect: {kolmogorov: 0.1}\n", "min_effect.kolmogorov"),
    ],
)
def test_bad_drift_settings_name_the_field(tmp_path: Path, block: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(with_drift(tmp_path, block))
    assert message in str(info.value)
    assert "p.yaml" in str(info.value)
