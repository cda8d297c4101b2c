"""The embedded default router: logged requests replayed through both models.

Its live state — stable version, canary version, canary weight — is a JSON file in storage
(`<root>/pipelines/<name>/canary/router.json`), which is what a local serving process would
read. Requests are split by a stable hash of their id (a request in the canary arm at 20% stays
there at 50%, as with a sticky production router) and each arm is scored by its own model
through mlflow pyfunc, in micro-batches whose latency is recorded per request. Each
measurement replays its own window of the log and writes the scored requests as a parquet file
in the inference-log layout (`model_version`, `prediction`, `latency_ms`, `error`), so the
metric sources read replayed and real logs the same way. A window already written is never
replayed again: a resumed rollout reuses it.

A shadow step (`shadow_replay`) routes nothing: the champion serves every request of the
window and the challenger scores each one too, written in the same row as
`shadow_version`, `shadow_prediction`, `shadow_latency_ms`, `shadow_error` — the layout the
`inference_logs` source reads for a serving system's shadow predictions.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from airflow_mlops_provider.adapters.storage import Storage

BUCKETS = 10_000  # weight resolution: 0.01%


class LocalRouter:
    def __init__(self, storage: Storage, folder: str):
        self.storage = storage
        self.path = storage.join(folder, "router.json")

    def current(self) -> dict[str, Any]:
        if not self.storage.exists(self.path):
            return {"stable": None, "canary": None, "weight": 0}
        return json.loads(self.storage.read_text(self.path))

    def set_weight(self, challenger: str, champion: str | None, weight: int) -> dict[str, Any]:
        return self._write({"stable": champion, "canary": challenger, "weight": int(weight)})

    def promote(self, version: str) -> dict[str, Any]:
        return self._write({"stable": str(version), "canary": None, "weight": 0})

    def rollback(self, champion: str) -> dict[str, Any]:
        return self._write({"stable": str(champion), "canary": None, "weight": 0})

    def _write(self, state: dict[str, Any]) -> dict[str, Any]:
        state = {**state, "updated": datetime.now(UTC).isoformat(timespec="seconds")}
        self.storage.write_text(self.path, json.dumps(state, indent=2))
        return state


def in_canary(ids: Any, weight: float, salt: str) -> np.ndarray:
    """Stable split: True where the request id hashes into the canary's `weight` percent."""
    import numpy as np

    limit = round(weight * BUCKETS / 100)
    buckets = np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(f"{salt}:{i}".encode(), digest_size=8).digest(), "big")
            % BUCKETS
            for i in ids
        ),
        dtype=np.int64,
        count=len(ids),
    )
    return buckets < limit


def window(frame: pd.DataFrame, index: int, total: int, per_interval: int | None) -> pd.DataFrame:
    """The index-th traffic window: the log split evenly over the rollout's measurements,
    or `per_interval` requests each when set (then the log may run out: no new traffic)."""
    size = per_interval or -(-len(frame) // max(total, 1))
    return frame.iloc[index * size : (index + 1) * size]


def score(model: Any, rows: pd.DataFrame, batch_size: int) -> tuple[list, list, list]:
    """Scores, per-request latency (ms of its micro-batch) and error flags for one arm."""
    import numpy as np

    from airflow_mlops_provider.core.metrics import to_scores

    scores: list[float] = []
    latency: list[float] = []
    errors: list[bool] = []
    for start in range(0, len(rows), batch_size):
        batch = rows.iloc[start : start + batch_size]
        began = time.perf_counter()
        try:
            values = to_scores(model.predict(batch))
            failed = ~np.isfinite(values)
        except Exception:  # a failing prediction is what error_rate measures
            values = np.full(len(batch), np.nan)
            failed = np.ones(len(batch), bool)
        elapsed = (time.perf_counter() - began) * 1000
        scores.extend(values.tolist())
        latency.extend([elapsed] * len(batch))
        errors.extend(failed.tolist())
    return scores, latency, errors


def replay(
    requests: pd.DataFrame,
    *,
    models: dict[str, Any],
    versions: dict[str, str],
    weight: int,
    features: list[str],
    id_column: str | None,
    label: str | None,
    salt: str,
    batch_size: int,
) -> pd.DataFrame:
    """Route one window by weight and score each arm with its model → scored request log."""
    import pandas as pd

    ids = requests[id_column] if id_column else requests.index
    canary = in_canary(list(ids), weight, salt)
    parts = []
    for arm, mask in (("canary", canary), ("champion", ~canary)):
        rows = requests[mask]
        scores, latency, errors = score(models[arm], rows[features], batch_size)
        part = pd.DataFrame(
            {
                "request_id": [str(i) for i in (rows[id_column] if id_column else rows.index)],
                "arm": arm,
                "model_version": versions[arm],
                "prediction": scores,
                "latency_ms": latency,
                "error": errors,
            }
        )
        if label and label in rows:
            part["label"] = rows[label].to_numpy()
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def shadow_replay(
    requests: pd.DataFrame,
    *,
    models: dict[str, Any],
    versions: dict[str, str],
    features: list[str],
    id_column: str | None,
    label: str | None,
    batch_size: int,
) -> pd.DataFrame:
    """One window served by the champion and scored by the challenger in shadow: one row per
    request with both models' predictions (the challenger's never reaches a user)."""
    import pandas as pd

    rows = requests[features]
    served = score(models["champion"], rows, batch_size)
    shadow = score(models["canary"], rows, batch_size)
    frame = pd.DataFrame(
        {
            "request_id": [str(i) for i in (requests[id_column] if id_column else requests.index)],
            "arm": "champion",
            "model_version": versions["champion"],
            "prediction": served[0],
            "latency_ms": served[1],
            "error": served[2],
            "shadow_version": versions["canary"],
            "shadow_prediction": shadow[0],
            "shadow_latency_ms": shadow[1],
            "shadow_error": shadow[2],
        }
    )
    if label and label in requests:
        frame["label"] = requests[label].to_numpy()
    return frame
