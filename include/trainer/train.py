"""Reference trainer: the trainer contract (DESIGN.md §4) in its smallest working form.

Only environment variables, so one image runs as a subprocess or a pod: MLFLOW_TRACKING_URI,
MLFLOW_RUN_ID (the platform created the run: retries resume it, it sets the lineage tags),
MLOPS_TRAIN_DATA/MLOPS_HOLDOUT_DATA (parquet file or dir), MLOPS_DATA_SPEC (JSON: target,
numeric, categorical, task); optional MLOPS_PARAMS (JSON) and MLOPS_LINEAGE (-> lineage.json).

Run status: a bad environment exits 2 *before* the run is touched (the platform reports it);
otherwise ``with mlflow.start_run(...)`` ends the run FINISHED on success and FAILED on any
error, so the platform only checks the status and that the model ``model`` was logged.
"""

import json
import os
import sys
from importlib.metadata import version
from typing import Any, NoReturn

import pandas as pd
import pyarrow.parquet as pq
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score, root_mean_squared_error
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

CLASSIFY, REGRESS = "binary_classification", "regression"
DEFAULT_PARAMS: dict[str, Any] = {
    "learning_rate": 0.1,
    "max_iter": 200,
    "max_depth": 6,
    "min_samples_leaf": 20,
    "l2_regularization": 0.0,
    "early_stopping": False,  # no hidden random validation split: same data, same model
    "random_state": 0,
}
# MLflow 3.17 saves sklearn models with skops, which loads only the types it is told to
# trust; reviewed for this Pipeline: tree nodes and the passthrough input checker.
SKOPS_TRUSTED_TYPES = [
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
]
MODEL_REQUIREMENTS = ["mlflow", "scikit-learn", "skops", "numpy", "scipy", "pandas"]


def fail(message: str) -> NoReturn:
    """Stop with one readable line on stderr; the platform surfaces it in the task log."""
    print(f"train.py: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def env(name: str, parse_json: bool = False, required: bool = True) -> Any:
    """Read one contract variable (empty counts as unset), naming it in every error."""
    raw = os.environ.get(name, "")
    if not raw:
        return fail(f"environment variable {name} is not set") if required else None
    try:
        return json.loads(raw) if parse_json else raw
    except json.JSONDecodeError as exc:
        fail(f"{name} is not valid JSON: {exc}")


def load_config() -> tuple[dict[str, Any], dict[str, Any]]:
    """Hyperparameters (a typo must not silently train with a default) and the data spec."""
    params = env("MLOPS_PARAMS", parse_json=True, required=False) or {}
    if not isinstance(params, dict):
        fail("MLOPS_PARAMS must be a JSON object")
    if unknown := sorted(params.keys() - DEFAULT_PARAMS.keys()):
        fail(f"MLOPS_PARAMS: unknown parameter(s) {unknown}; allowed: {', '.join(DEFAULT_PARAMS)}")
    spec = env("MLOPS_DATA_SPEC", parse_json=True)
    if not isinstance(spec, dict) or not isinstance(spec.get("target"), str):
        fail('MLOPS_DATA_SPEC must be a JSON object with a "target" column name')
    spec = {"numeric": [], "categorical": [], "task": CLASSIFY, **spec}
    if spec["task"] not in (CLASSIFY, REGRESS):
        fail(f"MLOPS_DATA_SPEC: task {spec['task']!r} is not {CLASSIFY!r} or {REGRESS!r}")
    return {**DEFAULT_PARAMS, **params}, spec


def load_data(var: str, columns: list[str]) -> pd.DataFrame:
    """Read the parquet file or directory named by ``var``; keep only the spec's columns."""
    path = env(var)
    try:
        frame = pq.read_table(path).to_pandas()
    except (OSError, ValueError) as exc:  # missing path, not parquet (ArrowInvalid)
        fail(f"{var}: cannot read parquet data at {path}: {type(exc).__name__}: {exc}")
    missing = [c for c in columns if c not in frame.columns]
    if missing or frame.empty:
        fail(f"{var}: {path} has no rows or lacks column(s) {', '.join(missing)}")
    return frame[columns]


def build_model(spec: dict[str, Any], params: dict[str, Any]) -> Pipeline:
    """Ordinal-encode categoricals (unknown -> NaN = missing) for the booster's native splits."""
    cats = spec["categorical"]
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=float("nan"))
    columns = ColumnTransformer([("cat", encoder, cats), ("num", "passthrough", spec["numeric"])])
    regress = spec["task"] == REGRESS
    booster_cls = HistGradientBoostingRegressor if regress else HistGradientBoostingClassifier
    booster = booster_cls(categorical_features=list(range(len(cats))) or None, **params)
    return Pipeline([("columns", columns), ("booster", booster)])


def holdout_metrics(model: Pipeline, x: pd.DataFrame, y: pd.Series, task: str) -> dict:
    """The metric names the evaluation gate refers to, on the platform's holdout."""
    pred = model.predict(x)
    if task == REGRESS:
        return {"holdout_rmse": root_mean_squared_error(y, pred), "holdout_r2": r2_score(y, pred)}
    auc = roc_auc_score(y, model.predict_proba(x)[:, 1])
    return {"holdout_roc_auc": auc, "holdout_accuracy": accuracy_score(y, pred)}


def main() -> None:
    env("MLFLOW_TRACKING_URI")  # mlflow reads it itself; checked here for a clear message
    run_id = env("MLFLOW_RUN_ID")
    params, spec = load_config()
    lineage = env("MLOPS_LINEAGE", parse_json=True, required=False)
    features, target = spec["categorical"] + spec["numeric"], spec["target"]
    train = load_data("MLOPS_TRAIN_DATA", [*features, target])
    holdout = load_data("MLOPS_HOLDOUT_DATA", [*features, target])
    print(f"run={run_id} train={len(train)} holdout={len(holdout)} rows, {spec['task']}, cpu")
    import mlflow  # late: a bad environment fails fast, without the ~1.5 s import
    from mlflow.models import infer_signature

    with mlflow.start_run(run_id=run_id):
        mlflow.log_params({**params, "device": "cpu", "train_rows": len(train)})  # no GPU in HGB
        if lineage is not None:
            mlflow.log_dict(lineage, "lineage.json")
        model = build_model(spec, params).fit(train[features], train[target])
        scores = holdout_metrics(model, holdout[features], holdout[target], spec["task"])
        mlflow.log_metrics(scores)
        print("fitted: " + " ".join(f"{k}={v:.4f}" for k, v in scores.items()))
        example = train[features].head(5)
        predict_fn = "predict" if spec["task"] == REGRESS else "predict_proba"
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(example, getattr(model, predict_fn)(example)),
            input_example=example,
            pyfunc_predict_fn=predict_fn,  # pyfunc predict() returns class probabilities
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            # pinned: inference re-imports the model in a subprocess (~5 s), lists stray pkgs
            pip_requirements=[f"{name}=={version(name)}" for name in MODEL_REQUIREMENTS],
        )
        print("model logged as 'model'; the run ends FINISHED")


if __name__ == "__main__":
    main()
