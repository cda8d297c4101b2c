"""Reference trainer: the trainer contract (DESIGN.md §4) in its smallest working form.

Only environment variables, so one image runs as a subprocess or a pod: MLFLOW_TRACKING_URI,
MLFLOW_RUN_ID (the platform created the run: retries resume it, it sets the lineage tags),
MLOPS_TRAIN_DATA/MLOPS_HOLDOUT_DATA (parquet file or dir), MLOPS_DATA_SPEC (JSON: target,
numeric, categorical, task); optional MLOPS_PARAMS (JSON) and MLOPS_LINEAGE (-> lineage.json).

Run status: a bad environment exits 2 *before* the run is touched (the platform reports it);
otherwise ``with mlflow.start_run(...)`` ends the run FINISHED on success and FAILED on any
error, so the platform only checks the status and that the model ``model`` was logged.

Backends, MLOPS_PARAMS ``backend``: ``sklearn`` (HistGradientBoosting, CPU), ``xgboost`` (on
the GPU when one is visible, see ``pick_device``), ``auto`` (default): xgboost if installed, else
sklearn -- the environment, not the hardware, picks the model type. The run's ``backend`` and
``device`` (where it really trained) params record the outcome. Parameter names keep
HistGradientBoosting's meaning; for xgboost max_iter -> n_estimators, l2_regularization ->
reg_lambda, max_depth (null: no limit) -> max_depth (0), min_samples_leaf -> min_child_weight
(a hessian sum: rows for regression, stricter for log loss where a row weighs p(1-p)); trees
grow best-first to <= 31 leaves.
"""

import glob
import importlib.util
import json
import os
import sys
from collections.abc import Mapping
from importlib.metadata import distributions
from typing import Any, NoReturn

import pandas as pd
import pyarrow.parquet as pq
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score, root_mean_squared_error
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

CLASSIFY, REGRESS = "binary_classification", "regression"
BACKENDS = ("auto", "sklearn", "xgboost")
DEFAULT_PARAMS: dict[str, Any] = {
    "backend": "auto",
    "learning_rate": 0.1,
    "max_iter": 200,
    "max_depth": 6,
    "min_samples_leaf": 20,
    "l2_regularization": 0.0,
    "early_stopping": False,  # no hidden random validation split: same data, same model
    "random_state": 0,
    # Test knobs that perturb the *training labels* (never the holdout), seeded by random_state,
    # so evaluation-gate acceptance tests can train a deliberately worse or unfair challenger.
    "label_noise": 0.0,  # share of training rows whose label is flipped (regression: shuffled)
    "bias_group": "",  # "column=value": the group whose negative labels bias_rate flips to 1
    "bias_rate": 0.0,
}
LABEL_KNOBS = ("label_noise", "bias_group", "bias_rate")
# MLflow 3.17 saves sklearn models with skops, which loads only the types it is told to
# trust; reviewed per backend: tree nodes and the passthrough input checker for sklearn, the
# estimator and its Booster (state = the model's own binary format, no pickle) for xgboost.
SKOPS_TRUSTED_TYPES = {
    "sklearn": [
        "functools.partial",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.utils.validation.check_array",
    ],
    "xgboost": [
        "xgboost.core.Booster",
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRegressor",
    ],
}
MODEL_REQUIREMENTS = ["mlflow", "scikit-learn", "skops", "numpy", "scipy", "pandas"]
XGBOOST_DISTRIBUTIONS = ["xgboost", "xgboost-cpu"]  # same module; -cpu lacks CUDA
# Best-first growth to at most 31 leaves, as HistGradientBoosting's defaults; native categoricals.
XGBOOST_FIXED = {
    "tree_method": "hist",
    "grow_policy": "lossguide",
    "max_leaves": 31,
    "enable_categorical": True,
}


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
    params = {**DEFAULT_PARAMS, **params}
    if params["backend"] not in BACKENDS:
        fail(f"MLOPS_PARAMS: backend {params['backend']!r} is not one of {', '.join(BACKENDS)}")
    if not all(0 <= params[k] <= 1 for k in ("label_noise", "bias_rate")):
        fail("MLOPS_PARAMS: label_noise and bias_rate are shares between 0 and 1")
    spec = env("MLOPS_DATA_SPEC", parse_json=True)
    if not isinstance(spec, dict) or not isinstance(spec.get("target"), str):
        fail('MLOPS_DATA_SPEC must be a JSON object with a "target" column name')
    spec = {"numeric": [], "categorical": [], "task": CLASSIFY, **spec}
    if spec["task"] not in (CLASSIFY, REGRESS):
        fail(f"MLOPS_DATA_SPEC: task {spec['task']!r} is not {CLASSIFY!r} or {REGRESS!r}")
    return params, spec


def resolve_backend(requested: str, early_stopping: bool = False) -> str:
    """``auto`` -> xgboost if importable (found without the ~1 s import), else sklearn."""
    installed = importlib.util.find_spec("xgboost") is not None
    backend = ("xgboost" if installed else "sklearn") if requested == "auto" else requested
    if backend == "xgboost" and not installed:
        fail("MLOPS_PARAMS: backend 'xgboost' but xgboost is not installed (pip install xgboost)")
    if backend == "xgboost" and early_stopping:
        fail("MLOPS_PARAMS: early_stopping needs backend 'sklearn' (its internal validation split)")
    return backend


def pick_device(environ: Mapping[str, str], nvidia_device_exists: bool) -> str:
    """``cuda`` when a GPU is visible to this process, else ``cpu``; cheap, no CUDA init.

    CUDA_VISIBLE_DEVICES, when set, must start with a device index or GPU-/MIG- UUID (CUDA
    stops at the first invalid entry: "" or "-1" hide every GPU). NVIDIA_VISIBLE_DEVICES set to
    "", "none" or "void" means the container runtime gave no GPU. Otherwise a driver device node
    /dev/nvidiaN decides (the runtime mounts only the allocated ones, with host numbering).
    """
    if (cuda := environ.get("CUDA_VISIBLE_DEVICES")) is not None:
        first = cuda.split(",")[0].strip()
        if not (first.isdigit() or first.startswith(("GPU-", "MIG-"))):
            return "cpu"
    nvidia = environ.get("NVIDIA_VISIBLE_DEVICES")
    if nvidia is not None and nvidia.strip().lower() in ("", "none", "void"):
        return "cpu"
    return "cuda" if nvidia_device_exists else "cpu"


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


def build_model(spec: dict[str, Any], params: dict[str, Any], device: str = "cpu") -> Pipeline:
    """Ordinal-encode categoricals (unknown -> NaN = missing) for the booster's native splits."""
    cats, regress = spec["categorical"], spec["task"] == REGRESS
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=float("nan"))
    columns = ColumnTransformer([("cat", encoder, cats), ("num", "passthrough", spec["numeric"])])
    if resolve_backend(params["backend"], params["early_stopping"]) == "sklearn":
        hgb_cls = HistGradientBoostingRegressor if regress else HistGradientBoostingClassifier
        options = {k: v for k, v in params.items() if k not in ("backend", *LABEL_KNOBS)}
        booster = hgb_cls(categorical_features=list(range(len(cats))) or None, **options)
    else:
        from xgboost import XGBClassifier, XGBRegressor

        booster = (XGBRegressor if regress else XGBClassifier)(
            **XGBOOST_FIXED,
            device=device,
            n_estimators=params["max_iter"],
            learning_rate=params["learning_rate"],
            max_depth=params["max_depth"] or 0,  # 0: no limit, as None is for sklearn
            min_child_weight=params["min_samples_leaf"],
            reg_lambda=params["l2_regularization"],
            random_state=params["random_state"],
            feature_types=["c"] * len(cats) + ["q"] * len(spec["numeric"]),
        )
    return Pipeline([("columns", columns), ("booster", booster)])


def perturb_labels(
    train: pd.DataFrame, target: str, params: dict[str, Any], task: str
) -> pd.Series:
    """The training labels after the label knobs: flip a random ``label_noise`` share, and flip
    a ``bias_rate`` share of the ``bias_group`` rows labelled 0 to 1 (an unfair model)."""
    import numpy as np

    labels = train[target].copy()
    rng = np.random.default_rng(params["random_state"])
    noise, rate, group = params["label_noise"], params["bias_rate"], params["bias_group"]
    noisy = rng.random(len(labels)) < noise
    if task == REGRESS:
        labels[noisy] = rng.permutation(labels[noisy].to_numpy())
    else:
        labels[noisy] = 1 - labels[noisy]
    if group and rate:
        column, _, value = str(group).partition("=")
        if column not in train.columns:
            fail(f"MLOPS_PARAMS: bias_group {group!r} must be 'column=value' of a training column")
        chosen = (train[column].astype(str) == value) & (labels == 0)
        labels[chosen & (rng.random(len(labels)) < rate)] = 1
    return labels


def holdout_metrics(model: Pipeline, x: pd.DataFrame, y: pd.Series, task: str) -> dict:
    """The metric names the evaluation gate refers to, on the platform's holdout."""
    pred = model.predict(x)
    if task == REGRESS:
        return {"holdout_rmse": root_mean_squared_error(y, pred), "holdout_r2": r2_score(y, pred)}
    auc = roc_auc_score(y, model.predict_proba(x)[:, 1])
    return {"holdout_roc_auc": auc, "holdout_accuracy": accuracy_score(y, pred)}


def device_used(model: Pipeline) -> str:
    """Where the booster really trained: xgboost falls back to the CPU with only a warning when
    CUDA cannot start (no driver libraries, the xgboost-cpu build), and the run must say so."""
    if not hasattr(booster := model[-1], "get_booster"):
        return "cpu"  # HistGradientBoosting has no GPU support
    config = json.loads(booster.get_booster().save_config())
    return "cpu" if config["learner"]["generic_param"]["device"].startswith("cpu") else "cuda"


def main() -> None:
    env("MLFLOW_TRACKING_URI")  # mlflow reads it itself; checked here for a clear message
    run_id = env("MLFLOW_RUN_ID")
    params, spec = load_config()
    backend = resolve_backend(params["backend"], params["early_stopping"])
    lineage = env("MLOPS_LINEAGE", parse_json=True, required=False)
    features, target = spec["categorical"] + spec["numeric"], spec["target"]
    train = load_data("MLOPS_TRAIN_DATA", [*features, target])
    holdout = load_data("MLOPS_HOLDOUT_DATA", [*features, target])
    gpu = pick_device(os.environ, bool(glob.glob("/dev/nvidia[0-9]*")))  # only xgboost uses it
    device = gpu if backend == "xgboost" else "cpu"
    print(f"run={run_id} train={len(train)} holdout={len(holdout)} rows, {spec['task']}")
    print(f"backend={backend} device={device} (GPU visible: {gpu == 'cuda'})")
    import mlflow  # late: a bad environment fails fast, without the ~1.5 s import
    from mlflow.models import infer_signature

    with mlflow.start_run(run_id=run_id):
        params = {**params, "backend": backend}
        mlflow.log_params({**params, "train_rows": len(train)})
        if lineage is not None:
            mlflow.log_dict(lineage, "lineage.json")
        labels = perturb_labels(train, target, params, spec["task"])
        model = build_model(spec, params, device).fit(train[features], labels)
        if (used := device_used(model)) != device:
            print("note: xgboost could not start CUDA (see its warning): trained on the CPU")
        mlflow.log_param("device", used)
        if backend == "xgboost":  # scorers (evaluate, serving) have no GPU: predict on CPU
            model[-1].set_params(device="cpu")
        scores = holdout_metrics(model, holdout[features], holdout[target], spec["task"])
        mlflow.log_metrics(scores)
        print("fitted: " + " ".join(f"{k}={v:.4f}" for k, v in scores.items()))
        example = train[features].head(5)
        predict_fn = "predict" if spec["task"] == REGRESS else "predict_proba"
        names = MODEL_REQUIREMENTS + (XGBOOST_DISTRIBUTIONS if backend == "xgboost" else [])
        requirements = [f"{d.name}=={d.version}" for n in names for d in distributions(name=n)]
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(example, getattr(model, predict_fn)(example)),
            input_example=example,
            pyfunc_predict_fn=predict_fn,  # pyfunc predict() returns class probabilities
            skops_trusted_types=SKOPS_TRUSTED_TYPES[backend],
            # pinned to what trained it (inferring them re-imports the model in a subprocess,
            # ~5 s, and lists stray packages); of the two xgboost dists only one is installed
            pip_requirements=requirements,
        )
        print("model logged as 'model'; the run ends FINISHED")


if __name__ == "__main__":
    main()
