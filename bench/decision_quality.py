"""Release-decision soundness: seeded trials of the gate, the canary and the shadow stage.

    PYTHONPATH=src .venv/bin/python bench/decision_quality.py [--trials 100] [--real 20] \
        [--stages gate canary shadow] [--sizes N ...]

Challengers against a champion of ROC AUC 0.80 (issue 17's scenarios; margin = the bound's
`max_regression`): `identical` (the same model), `equal` (another seed: same AUC, scores
correlated 0.8 with the champion's), `slightly_worse` (half the margin), `worse_by_margin`
(exactly the margin), `clearly_worse` (three margins) and `better` (two margins).

Scores come from a binormal generator — score = mu * y + noise, AUC = Phi(mu / sqrt 2), 30%
positives, a logistic link for probabilities — so 100 trials per case run in minutes; the
`--real` trials (scikit-learn models trained on different samples of one logistic ground
truth) check that the generator's paired AUC differences behave like real models'.

Gate (holdouts of 1k, 4k, 20k rows; `roc_auc: {min: 0.6, max_regression: 0.01}`,
`accuracy: {min: 0.6}`, disagreement <= 0.5, default approval policy):
  - `before`: the point-estimate gate as on main (commit BEFORE, loaded from git);
  - `after`: the gate with intervals (core/estimates.py, core/gate.py), alpha 0.01;
  - `anchor`: a plain point comparison — promote when the AUC regression is <= the margin.
Canary (`roc_auc: {max_regression: 0.02}`; 20% then 50% of the traffic, 5 measurements per
step over cumulative traffic; total traffic 10k, 50k, 200k requests; every request labelled):
  - `before`: the point-estimate judge and state machine as on main (min_samples 100,
    failure_limit 0: a point regression beyond the margin rolls back);
  - `after`: the live rollout's state machine (core/canary.py) with the sequential judge
    (core/canary_judge.py), alpha 0.01, early finish;
  - `fixed`: a fixed-sample test with the same error rate, one look at the end of each step
    (rollback when the one-sided 99% bound of the regression exceeds the margin, pass when
    it is inside, else a person).
For the canary the JSON also gives, per case, the requests the sequential judge used and the
requests a fixed-sample test needs for the same alpha and the power the judge reached.
Shadow (the same `roc_auc` bound; one shadow step of 5 measurements over cumulative traffic
that both models score — the `pair` generator, scores correlated 0.8; 2k, 10k, 50k requests):
  - `after`: the rollout's state machine with a shadow step and the paired judge
    (core/canary_judge.shadow_estimates: DeLong covariance), alpha 0.01; "promote" here means
    the shadow step passed and the rollout moves on to its canary steps, "rollback" that the
    challenger was stopped before serving any request;
  - `unpaired`: the same judge ignoring the covariance (as if the arms were disjoint);
  - `fixed`: one paired look at the end (the one-sided 99% bound of the regression).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
BEFORE = "5a3358a"  # main when this work started: the point-estimate gate and canary
BASE_AUC = 0.80
POSITIVES = 0.3
CORRELATION = 0.8  # score noise shared by two retrains of the same model
GATE_MARGIN = 0.01
CANARY_MARGIN = 0.02
SCENARIOS = {  # AUC change of the challenger, in margins (None: the champion itself)
    "identical": None,
    "equal": 0.0,
    "slightly_worse": -0.5,
    "worse_by_margin": -1.0,
    "clearly_worse": -3.0,
    "better": 2.0,
}
HOLDOUTS = (1_000, 4_000, 20_000)
TRAFFIC = (10_000, 50_000, 200_000)
SHADOW_TRAFFIC = (2_000, 10_000, 50_000)
WEIGHTS = (20, 50)
LOOKS = 5


# --------------------------------------------------------------------------------------------
# synthetic models
# --------------------------------------------------------------------------------------------


def mu_for(auc: float) -> float:
    from scipy.stats import norm

    return math.sqrt(2) * float(norm.ppf(auc))


def scores(rng: Any, y: Any, auc: float, shared: Any, correlation: float = CORRELATION) -> Any:
    """Probabilities of a binormal model of this AUC whose noise shares `shared`."""
    import numpy as np

    own = rng.normal(size=y.size)
    noise = math.sqrt(correlation) * shared + math.sqrt(1 - correlation) * own
    latent = mu_for(auc) * y + noise
    return 1 / (1 + np.exp(-(1.6 * latent - 1.6)))


def pair(rng: Any, rows: int, scenario: str, margin: float) -> tuple[Any, Any, Any]:
    """(labels, challenger probabilities, champion probabilities) for one holdout."""
    y = (rng.random(rows) < POSITIVES).astype(float)
    shared = rng.normal(size=rows)
    champion = scores(rng, y, BASE_AUC, shared)
    change = SCENARIOS[scenario]
    challenger = champion if change is None else scores(rng, y, BASE_AUC + change * margin, shared)
    return y, challenger, champion


# --------------------------------------------------------------------------------------------
# gate engines
# --------------------------------------------------------------------------------------------


def load_before(name: str) -> types.ModuleType:
    """A core module as it was on main at BEFORE (the engines under comparison side by side),
    with its core imports loaded from BEFORE too: today's core has moved names since
    (LOWER_IS_BETTER went to core/vocabulary), and the old engine must run as it was."""
    if f"before_{name}" in sys.modules:
        return sys.modules[f"before_{name}"]
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{BEFORE}:src/airflow_mlops_provider/core/{name}.py"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for dependency in re.findall(r"^from airflow_mlops_provider\.core\.(\w+) import", source, re.M):
        load_before(dependency)
    for dependency in re.findall(r"^from airflow_mlops_provider\.core import (\w+)$", source, re.M):
        load_before(dependency)
    source = re.sub(r"^from airflow_mlops_provider\.core\.(\w+) import", r"from before_\1 import",
                    source, flags=re.M)  # fmt: skip
    source = re.sub(r"^from airflow_mlops_provider\.core import (\w+)$",
                    r"import before_\1 as \1", source, flags=re.M)  # fmt: skip
    module = types.ModuleType(f"before_{name}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{BEFORE}:{name}.py", "exec"), module.__dict__)  # noqa: S102
    return module


def gate_rules() -> dict[str, Any]:
    from airflow_mlops_provider.spec import MetricRule

    return {
        "roc_auc": MetricRule(min=0.6, max_regression=GATE_MARGIN),
        "accuracy": MetricRule(min=0.6),
    }


def gate_after(y: Any, challenger: Any, champion: Any) -> str:
    from airflow_mlops_provider.core import gate
    from airflow_mlops_provider.core.estimates import paired_estimates

    rules = gate_rules()
    estimates = paired_estimates(list(rules), y, challenger, champion, threshold=0.5)
    checks = gate.metric_checks(rules, estimates, alpha=gate.ALPHA)
    share = gate.disagreement(challenger, champion, regression=False)
    checks.append(
        gate.limit_check(
            "disagreement",
            "disagreement",
            share,
            0.5,
            interval=gate.proportion_interval(share * y.size, y.size),
        )  # fmt: skip
    )
    return gate.judge(checks, gate.Policy(), has_champion=True).decision


def gate_before(old: types.ModuleType) -> Any:
    def run(y: Any, challenger: Any, champion: Any) -> str:
        from airflow_mlops_provider.core.metrics import compute

        rules = gate_rules()
        mine = compute(list(rules), y, challenger)
        theirs = compute(list(rules), y, champion)
        share = old.disagreement(challenger, champion, regression=False)
        checks = [old.limit_check("disagreement", "disagreement", share, 0.5)]
        return old.judge(rules, mine, theirs, checks, old.Policy()).decision

    return run


def gate_anchor(y: Any, challenger: Any, champion: Any) -> str:
    from airflow_mlops_provider.core.auc import roc_auc

    return "promote" if roc_auc(y, champion) - roc_auc(y, challenger) <= GATE_MARGIN else "reject"


def run_gate(trials: int, engines: dict[str, Any]) -> list[dict[str, Any]]:
    import numpy as np

    rows = []
    for size in HOLDOUTS:
        for index, scenario in enumerate(SCENARIOS):
            counts: dict[str, dict[str, int]] = {e: {} for e in engines}
            started = time.perf_counter()
            for trial in range(trials):
                rng = np.random.default_rng([17, size, index, trial])
                y, challenger, champion = pair(rng, size, scenario, GATE_MARGIN)
                for engine, judge in engines.items():
                    decision = judge(y, challenger, champion)
                    counts[engine][decision] = counts[engine].get(decision, 0) + 1
            seconds = time.perf_counter() - started
            for engine, found in counts.items():
                rows.append(
                    {"stage": "gate", "engine": engine, "scenario": scenario, "size": size,
                     "trials": trials, **{k: found.get(k, 0) for k in ("promote", "approval",
                     "reject")}, "seconds_all_engines": round(seconds, 1)}
                )  # fmt: skip
            print(f"gate {size:>6} {scenario:<16} " + "  ".join(
                f"{e}: {c.get('promote', 0)}/{c.get('approval', 0)}/{c.get('reject', 0)}"
                for e, c in counts.items()), flush=True)  # fmt: skip
    return rows


# --------------------------------------------------------------------------------------------
# canary engines: one rollout = two analysis steps over cumulative traffic windows
# --------------------------------------------------------------------------------------------


def canary_rules() -> dict[str, Any]:
    from airflow_mlops_provider.spec import CanaryMetricRule

    return {"roc_auc": CanaryMetricRule(max_regression=CANARY_MARGIN)}


def traffic(rng: Any, total: int, scenario: str) -> list[dict[str, Any]]:
    """Per step: the windows of (labels, scores) of each arm. Every request is scored by the
    model of its arm only (canary traffic is disjoint), independent noise per request."""

    change = SCENARIOS[scenario]
    auc = BASE_AUC + (change or 0.0) * CANARY_MARGIN
    window = total // (len(WEIGHTS) * LOOKS)
    steps = []
    for weight in WEIGHTS:
        windows = []
        for _ in range(LOOKS):
            n_canary = int(round(window * weight / 100))
            arms = {}
            for arm, n, arm_auc in (("canary", n_canary, auc), ("champion", window - n_canary,
                                                                BASE_AUC)):  # fmt: skip
                y = (rng.random(n) < POSITIVES).astype(float)
                arms[arm] = (y, scores(rng, y, arm_auc, rng.normal(size=n)))
            windows.append(arms)
        steps.append(windows)
    return steps


def cumulative(windows: list[dict[str, Any]], upto: int) -> dict[str, tuple[Any, Any]]:
    import numpy as np

    return {
        arm: (
            np.concatenate([w[arm][0] for w in windows[: upto + 1]]),
            np.concatenate([w[arm][1] for w in windows[: upto + 1]]),
        )
        for arm in ("canary", "champion")
    }


def canary_after(steps: list[list[dict[str, Any]]]) -> tuple[str, int]:
    """The live rollout's decisions: the state machine (core/canary.py) with the sequential
    judge on each arm's estimates, as services/rollout.py runs them (without the I/O)."""
    from airflow_mlops_provider.core import canary
    from airflow_mlops_provider.core import canary_judge as cj
    from airflow_mlops_provider.spec import CanaryStep

    plan = [
        CanaryStep.model_validate(s, strict=False)
        for w in WEIGHTS
        for s in ({"set_weight": w}, {"analysis": {"metrics": {"roc_auc": {
            "max_regression": CANARY_MARGIN}}, "count": LOOKS, "interval": 1}})
    ]  # fmt: skip
    state, used, now = canary.start("2", "1"), 0, 0.0
    while True:
        action = canary.next_action(plan, state, now)
        if action.kind in (canary.PAUSE, canary.PROMOTE, canary.ROLLBACK):
            break
        if action.kind == canary.WAIT:
            now = action.until or now
            state = canary.after(plan, state, action, now)
            continue
        measurement = None
        if action.kind == canary.ANALYSE:
            arms = cumulative(steps[state.step // 2], len(state.measurements))
            found = {a: {"roc_auc": cj.arm_estimate("roc_auc", *arms[a], 0.5)} for a in arms}
            measurement = cj.judge(plan[state.step].analysis.metrics, found["canary"],
                                   found["champion"], alpha=0.01)  # fmt: skip
            looked = sum(arms[a][0].size for a in arms)
        state = canary.after(plan, state, action, now, measurement)
        if action.kind == canary.ANALYSE and not state.measurements:  # the step finished
            used += looked
    if action.kind != canary.PROMOTE:
        used += looked
    return {"promote": "promote", "pause": "pause", "rollback": "rollback"}[action.kind], used


def canary_before(steps: list[list[dict[str, Any]]]) -> tuple[str, int]:
    from airflow_mlops_provider.core.metrics import compute

    canary = load_before("canary")  # the point-estimate judge as it was on main at BEFORE
    rules, used = canary_rules(), 0
    for windows in steps:
        statuses = []
        for look in range(LOOKS):
            arms = cumulative(windows, look)
            values = {a: compute(["roc_auc"], *arms[a]) for a in arms}
            samples = {a: int(arms[a][0].size) for a in arms}
            verdict = canary.judge(rules, values["canary"], values["champion"], samples, 100)
            statuses.append(verdict.status)
            if verdict.status == canary.FAIL:  # failure_limit 0
                return "rollback", used + sum(samples.values())
        used += sum(samples.values())
        if statuses[-1] == canary.INCONCLUSIVE:
            return "pause", used
    return "promote", used


def canary_fixed(steps: list[list[dict[str, Any]]]) -> tuple[str, int]:
    """One look per step, at its end: the fixed-sample test at the same alpha."""
    from airflow_mlops_provider.core.estimates import arm_estimate
    from airflow_mlops_provider.core.intervals import z_of

    used = 0
    for windows in steps:
        arms = cumulative(windows, LOOKS - 1)
        mine = arm_estimate("roc_auc", *arms["canary"], 0.5)
        theirs = arm_estimate("roc_auc", *arms["champion"], 0.5)
        used += sum(arms[a][0].size for a in arms)
        harm = theirs.value - mine.value
        se = math.sqrt((mine.variance or math.inf) + (theirs.variance or math.inf))
        z = z_of(0.01)
        if harm - z * se > CANARY_MARGIN:
            return "rollback", used
        if harm + z * se > CANARY_MARGIN:
            return "pause", used
    return "promote", used


def run_traffic(
    stage: str, trials: int, engines: dict[str, Any], sizes: tuple[int, ...], make: Any, seed: int
) -> list[dict[str, Any]]:
    """Seeded trials of a traffic stage (canary or shadow): `make(rng, total, scenario)` builds
    one trial's traffic, every engine decides on the same traffic."""
    import numpy as np

    rows = []
    for total in sizes:
        for index, scenario in enumerate(SCENARIOS):
            found: dict[str, list[tuple[str, int]]] = {e: [] for e in engines}
            started = time.perf_counter()
            for trial in range(trials):
                steps = make(np.random.default_rng([seed, total, index, trial]), total, scenario)
                for engine, judge in engines.items():
                    found[engine].append(judge(steps))
            seconds = time.perf_counter() - started
            for engine, results in found.items():
                rows.append(_canary_row(engine, scenario, total, trials, results, seconds, stage))
            print(
                f"{stage} {total:>6} {scenario:<16} "
                + "  ".join(
                    f"{r['engine']}: {r['promote']}/{r['pause']}/{r['rollback']} "
                    f"({r['mean_requests']:.0f} req)"
                    for r in rows[-len(engines) :]
                ),
                flush=True,
            )
    return rows


def _canary_row(
    engine: str,
    scenario: str,
    total: int,
    trials: int,
    results: list,
    seconds: float,
    stage: str = "canary",
) -> dict[str, Any]:
    decided = [n for d, n in results if d in ("promote", "rollback")]
    return {
        "stage": stage,
        "engine": engine,
        "scenario": scenario,
        "size": total,
        "trials": trials,
        **{k: sum(d == k for d, _ in results) for k in ("promote", "pause", "rollback")},
        "mean_requests": sum(n for _, n in results) / len(results),
        "mean_requests_when_decided": sum(decided) / len(decided) if decided else None,
        "seconds_all_engines": round(seconds, 1),
    }


# --------------------------------------------------------------------------------------------
# shadow engines: one shadow step, both models on every request
# --------------------------------------------------------------------------------------------


def shadow_traffic(rng: Any, total: int, scenario: str) -> list[tuple[Any, Any, Any]]:
    """LOOKS windows of (labels, challenger scores, champion scores) on the same requests."""
    return [pair(rng, total // LOOKS, scenario, CANARY_MARGIN) for _ in range(LOOKS)]


def paired_upto(windows: list[tuple[Any, Any, Any]], look: int) -> tuple[Any, Any, Any]:
    import numpy as np

    return tuple(np.concatenate([w[i] for w in windows[: look + 1]]) for i in range(3))


def shadow_sequential(windows: list[tuple[Any, Any, Any]], *, paired: bool) -> tuple[str, int]:
    """The rollout's state machine over one shadow step, as services/rollout.py runs it:
    promote = the shadow step passed (on to the canary steps), rollback = stopped unserved."""
    from airflow_mlops_provider.core import canary
    from airflow_mlops_provider.core import canary_judge as cj
    from airflow_mlops_provider.spec import CanaryStep

    plan = [
        CanaryStep.model_validate({"shadow": {"metrics": {"roc_auc": {
            "max_regression": CANARY_MARGIN}}, "count": LOOKS, "interval": 1}}, strict=False),
        CanaryStep.model_validate({"set_weight": 20}, strict=False),
    ]  # fmt: skip
    state, now, used = canary.start("2", "1"), 0.0, 0
    while state.step == 0 and state.phase == canary.PROGRESSING:
        action = canary.next_action(plan, state, now)
        if action.kind == canary.WAIT:
            now = action.until or now
            state = canary.after(plan, state, action, now)
            continue
        y, mine, theirs = paired_upto(windows, len(state.measurements))
        arms = cj.shadow_estimates(["roc_auc"], y, mine, theirs, threshold=0.5)
        measurement = cj.judge(plan[0].shadow.metrics, arms[0], arms[1], alpha=0.01,
                               covariance=arms[2] if paired else {})  # fmt: skip
        state, used = canary.after(plan, state, action, now, measurement), int(y.size)
    if state.step == 1:
        return "promote", used
    return ("rollback" if state.phase == canary.ROLLING_BACK else "pause"), used


def shadow_fixed(windows: list[tuple[Any, Any, Any]]) -> tuple[str, int]:
    """One paired look at the end of the shadow step, at the same alpha."""
    from airflow_mlops_provider.core import canary_judge as cj
    from airflow_mlops_provider.core.intervals import z_of

    y, mine, theirs = paired_upto(windows, LOOKS - 1)
    a, b, cov = cj.shadow_estimates(["roc_auc"], y, mine, theirs, threshold=0.5)
    harm = b["roc_auc"].value - a["roc_auc"].value
    variance = (a["roc_auc"].variance or math.inf) + (b["roc_auc"].variance or math.inf)
    se = math.sqrt(max(variance - 2 * cov.get("roc_auc", 0.0), 0.0))
    if harm - z_of(0.01) * se > CANARY_MARGIN:
        return "rollback", int(y.size)
    if harm + z_of(0.01) * se > CANARY_MARGIN:
        return "pause", int(y.size)
    return "promote", int(y.size)


def fixed_requests(power: float, harm: float, per_request_var: float) -> float | None:
    """Requests (both arms, in the steps' traffic mix) a one-look test at alpha 0.01 needs to
    reach `power` at a true regression `harm`: |harm - margin| / se >= z(0.99) + z(power),
    with se^2 = per_request_var / requests."""
    from airflow_mlops_provider.core.intervals import z_of

    if not 0 < power < 1 or harm == CANARY_MARGIN:
        return None
    distance = abs(harm - CANARY_MARGIN)
    return per_request_var * ((z_of(0.01) + z_of(1 - power)) / distance) ** 2


def per_request_variance(total: int = 200_000) -> float:
    """n x var(AUC difference) for the canary's traffic mix (both steps' splits averaged):
    var(diff) = v / n_canary + v / n_champion with v = n var(AUC) of one arm (DeLong)."""
    import numpy as np

    from airflow_mlops_provider.core.estimates import arm_estimate

    rng = np.random.default_rng(5)
    y = (rng.random(total) < POSITIVES).astype(float)
    one = arm_estimate("roc_auc", y, scores(rng, y, BASE_AUC, rng.normal(size=total)), 0.5)
    v = one.variance * total
    return float(np.mean([v / (w / 100) + v / (1 - w / 100) for w in WEIGHTS]))


def add_fixed_sample_sizes(rows: list[dict[str, Any]]) -> None:
    """The fixed-sample requests for the same alpha and the power the sequential judge had."""
    variance = per_request_variance()
    for row in rows:
        if row["stage"] != "canary" or row["engine"] != "after":
            continue
        change = SCENARIOS[row["scenario"]]
        harm = -(change or 0.0) * CANARY_MARGIN
        wanted = "rollback" if harm > CANARY_MARGIN else "promote"
        power = min(row[wanted] / row["trials"], 1 - 0.5 / row["trials"])  # 100/100: >= 99.5%
        needed = fixed_requests(power, harm, variance) if row["scenario"] != "identical" else None
        row["fixed_sample_requests_same_power"] = None if needed is None else round(needed)
        row["sequential_power"] = power


# --------------------------------------------------------------------------------------------
# real models: is the synthetic generator faithful?
# --------------------------------------------------------------------------------------------


def real_trials(trials: int, holdout: int = 4_000) -> dict[str, Any]:
    """Random forests trained on different samples of one ground truth (equally good
    retrains, in expectation): does the gate's 90% interval of the paired AUC difference cover
    the pair's true difference (measured on 200k fresh rows) in about 90% of trials, and does
    the generator, given the same AUC and score correlation, give the same standard error and
    the same decisions?"""
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    from airflow_mlops_provider.core.estimates import paired_estimates

    truth = np.random.default_rng(99).normal(size=10) * 0.6

    def sample(rng: Any, n: int) -> tuple[Any, Any]:
        x = rng.normal(size=(n, 10))
        logit = x @ truth - 1.0 + 0.5 * x[:, 0] * x[:, 1]
        return x, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)

    def se_of(y: Any, a: Any, b: Any) -> tuple[float, float]:
        est = paired_estimates(["roc_auc"], y, a, b, threshold=0.5)["roc_auc"]
        var = est.var_challenger + est.var_champion - 2 * est.covariance
        return est.challenger - est.champion, math.sqrt(var)

    real = {"diff": [], "se": [], "auc": [], "corr": [], "true": []}
    big_x, big_y = sample(np.random.default_rng(100), 200_000)  # the pairs' true AUCs
    decisions = {"real": {}, "synthetic": {}}
    for trial in range(trials):
        rng = np.random.default_rng([31, trial])
        models = [
            RandomForestClassifier(n_estimators=60, max_depth=6, random_state=trial * 2 + k).fit(
                *sample(rng, 2_000)
            )
            for k in range(2)
        ]
        x, y = sample(rng, holdout)
        a, b = (m.predict_proba(x)[:, 1] for m in models)
        diff, se = se_of(y, a, b)
        real["diff"].append(diff)
        real["se"].append(se)
        real["auc"].append(float(np.mean([roc(y, a), roc(y, b)])))
        real["corr"].append(float(np.corrcoef(a, b)[0, 1]))
        truths = [roc(big_y, m.predict_proba(big_x)[:, 1]) for m in models]
        real["true"].append(truths[0] - truths[1])
        got = gate_after(y, a, b)
        decisions["real"][got] = decisions["real"].get(got, 0) + 1
    auc, corr = float(np.mean(real["auc"])), float(np.mean(real["corr"]))
    synthetic = []
    rng = np.random.default_rng(7)
    for _ in range(trials):
        y = (rng.random(holdout) < POSITIVES).astype(float)
        shared = rng.normal(size=holdout)
        a, b = (scores(rng, y, auc, shared, corr) for _ in range(2))
        synthetic.append(se_of(y, a, b))
        got = gate_after(y, a, b)
        decisions["synthetic"][got] = decisions["synthetic"].get(got, 0) + 1
    z = 1.6449  # the gate's 90% interval (alpha 0.05 per side)
    covered = sum(
        abs(d - t) <= z * e for d, t, e in zip(real["diff"], real["true"], real["se"], strict=True)
    )
    return {
        "trials": trials,
        "holdout": holdout,
        "real_interval_covers_true_difference": covered,
        "real_true_difference_sd": float(np.std(real["true"])),
        "real_auc_mean": auc,
        "real_score_correlation_mean": corr,
        "real_diff_sd": float(np.std(real["diff"])),
        "real_diff_se_mean": float(np.mean(real["se"])),
        "synthetic_same_auc_and_correlation": {
            "diff_sd": float(np.std([d for d, _ in synthetic])),
            "diff_se_mean": float(np.mean([se for _, se in synthetic])),
        },
        "gate_decisions": decisions,
    }


def roc(y: Any, s: Any) -> float:
    from airflow_mlops_provider.core.auc import roc_auc

    return roc_auc(y, s)


# --------------------------------------------------------------------------------------------


def markdown(rows: list[dict[str, Any]]) -> str:
    """The BENCHMARKS.md tables: per stage, case and engine, the decisions out of the trials."""
    gate = [
        "| holdout | challenger | engine | promote | a person | reject |",
        "|---:|---|---|---:|---:|---:|",
    ]
    canary = [
        "| traffic | challenger | engine | promote | pause | rollback | requests used (mean) "
        "| fixed test, same power |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    shadow = [
        "| requests | challenger | engine | passed on | a person | stopped "
        "| requests used (mean) |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r["stage"] == "shadow":
            shadow.append(
                f"| {r['size']:,} | {r['scenario']} | {r['engine']} | {r['promote']} | "
                f"{r['pause']} | {r['rollback']} | {r['mean_requests']:,.0f} |"
            )
        elif r["stage"] == "gate":
            gate.append(
                f"| {r['size']:,} | {r['scenario']} | {r['engine']} | {r['promote']} | "
                f"{r['approval']} | {r['reject']} |"
            )
        else:
            fixed = r.get("fixed_sample_requests_same_power")
            canary.append(
                f"| {r['size']:,} | {r['scenario']} | {r['engine']} | {r['promote']} | "
                f"{r['pause']} | {r['rollback']} | {r['mean_requests']:,.0f} | "
                f"{'–' if fixed is None else f'{fixed:,}'} |"
            )
    return "\n\n".join("\n".join(table) for table in (gate, canary, shadow) if len(table) > 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--real", type=int, default=20, help="trials with scikit-learn models")
    parser.add_argument("--stages", nargs="+", default=["gate", "canary", "shadow"])
    parser.add_argument("--sizes", nargs="+", type=int, help="canary/shadow traffic sizes")
    parser.add_argument("--table", type=Path, help="print the tables of a results file, run none")
    args = parser.parse_args()
    if args.table:
        print(markdown(json.loads(args.table.read_text())["rows"]))
        return
    sys.path.insert(0, str(REPO / "src"))
    started = dt.datetime.now(dt.UTC)
    load_before_avg = Path("/proc/loadavg").read_text().split()[:3]
    rows: list[dict[str, Any]] = []
    if "gate" in args.stages:
        old = load_before("gate")
        rows += run_gate(args.trials, {"before": gate_before(old), "after": gate_after,
                                       "anchor": gate_anchor})  # fmt: skip
    if "canary" in args.stages:
        engines = {"before": canary_before, "after": canary_after, "fixed": canary_fixed}
        sizes = tuple(args.sizes or TRAFFIC)
        rows += run_traffic("canary", args.trials, engines, sizes, traffic, 23)
        add_fixed_sample_sizes(rows)
    if "shadow" in args.stages:
        engines = {
            "after": lambda w: shadow_sequential(w, paired=True),
            "unpaired": lambda w: shadow_sequential(w, paired=False),
            "fixed": shadow_fixed,
        }
        sizes = tuple(args.sizes or SHADOW_TRAFFIC)
        rows += run_traffic("shadow", args.trials, engines, sizes, shadow_traffic, 29)
    real = real_trials(args.real) if args.real else None
    report = {
        "benchmark": "decision-quality",
        "started": started.isoformat(),
        "finished": dt.datetime.now(dt.UTC).isoformat(),
        "before_commit": BEFORE,
        "commit": subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),  # fmt: skip
        "loadavg_before": load_before_avg,
        "loadavg_after": Path("/proc/loadavg").read_text().split()[:3],
        "nproc": os.cpu_count(),
        "settings": {
            "base_auc": BASE_AUC,
            "positives": POSITIVES,
            "correlation": CORRELATION,
            "gate_margin": GATE_MARGIN,
            "canary_margin": CANARY_MARGIN,
            "holdouts": HOLDOUTS,
            "traffic": TRAFFIC,
            "shadow_traffic": SHADOW_TRAFFIC,
            "weights": WEIGHTS,
            "looks_per_step": LOOKS,
            "scenarios_in_margins": SCENARIOS,
        },  # fmt: skip
        "rows": rows,
        "real_models": real,
    }
    RESULTS.mkdir(exist_ok=True)
    name = f"decision-quality-{started.date().isoformat()}-{'-'.join(args.stages)}.json"
    target = RESULTS / name
    target.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(rows))
    if real:
        print(json.dumps(real, indent=2))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
