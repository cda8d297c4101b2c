"""The local router's traffic: which window of logged requests a canary measurement needs, and
scoring it with both models.

The two halves are apart so the scoring can run where the models fit (`compute.replay`):
`ReplayTraffic` (in the rollout, in the worker) says which window and where it goes — a
`ReplayWindow`, plain JSON — and scores it in the worker (`local`, the default), or, with
`compute.replay: kubernetes`, raises `ReplayInPod` with it: the release step hands the window
to its operator, which runs the `replay` step (services/steps.py → `score_window`) in a pod and
calls the release again, which now finds the window written. A window once written is never
scored again, wherever it was scored: a resumed, retried or cleared rollout reuses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from airflow_mlops_provider.adapters.storage import Storage
    from airflow_mlops_provider.core.canary import RolloutState


@dataclass(frozen=True)
class ReplayWindow:
    """One measurement's window: where the requests are and which slice of them, the two
    versions (arm `canary` is the challenger), the canary weight or a shadow step, the
    columns, and the parquet file the scored requests go to."""

    requests: str
    format: str
    index: int
    total: int
    per_interval: int | None
    versions: dict[str, str]
    weight: int
    shadow: bool
    features: list[str]
    id_column: str | None
    label: str | None
    salt: str
    batch_size: int
    target: str

    @property
    def part(self) -> str:
        """A name for this window among the rollout's (e.g. `step-01-m-00`)."""
        *_, step, measurement = self.target.rsplit("/", 2)
        return f"{step}-{measurement.removesuffix('.parquet')}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ReplayWindow:
        return cls(**raw)


class ReplayInPod(Exception):
    """A measurement needs `window`, not yet written, and `compute.replay: kubernetes` scores
    it in a pod. Raised before the measurement changes anything, so the rollout's saved state
    is where it was and the release, called again once the pod wrote the window, measures."""

    def __init__(self, window: ReplayWindow) -> None:
        super().__init__(f"window {window.part} is scored in a replay pod")
        self.window = window


def score_window(
    window: ReplayWindow,
    *,
    storage: Storage,
    requests: pd.DataFrame,
    load_model: Callable[[str], Any],
) -> str:
    """Route (or shadow) and score `window` of `requests` with both models; the scored
    requests in the inference-log layout at `window.target`."""
    from airflow_mlops_provider.adapters.routers.local import replay, shadow_replay
    from airflow_mlops_provider.adapters.routers.local import window as cut

    rows = cut(requests, window.index, window.total, window.per_interval)
    models = {arm: load_model(version) for arm, version in window.versions.items()}
    columns = {
        "models": models,
        "versions": window.versions,
        "features": window.features,
        "id_column": window.id_column,
        "label": window.label,
        "batch_size": window.batch_size,
    }
    if window.shadow:
        scored = shadow_replay(rows, **columns)
    else:
        scored = replay(rows, weight=window.weight, salt=window.salt, **columns)
    return storage.write_frame(scored, window.target)


@dataclass
class ReplayTraffic:
    """The local router's traffic: windows of logged requests routed and scored per arm,
    here (`in_pod` False) or in a replay pod."""

    storage: Storage
    folder: str
    requests: str
    format: str
    load_model: Callable[[str], Any]
    features: list[str]
    id_column: str | None
    label: str | None
    salt: str
    batch_size: int
    per_interval: int | None
    in_pod: bool = False
    _frame: Any = None

    def window_of(self, steps: list[Any], state: RolloutState) -> ReplayWindow:
        """The window this measurement of `state` replays: the log split over every judged
        step's measurements, in order."""
        index = len(state.measurements)
        counts = [s.judged.count for s in steps if s.judged]
        before = sum(s.judged.count for s in steps[: state.step] if s.judged)
        return ReplayWindow(
            requests=self.storage.resolve(self.requests),
            format=self.format,
            index=before + index,
            total=sum(counts),
            per_interval=self.per_interval,
            versions={"canary": str(state.challenger), "champion": str(state.champion)},
            weight=state.weight,
            shadow=steps[state.step].shadow is not None,
            features=list(self.features),
            id_column=self.id_column,
            label=self.label,
            salt=self.salt,
            batch_size=self.batch_size,
            target=self.storage.join(
                self.folder, f"step-{state.step:02d}", f"m-{index:02d}.parquet"
            ),
        )

    def run(self, steps: list[Any], state: RolloutState) -> str:
        """Route and score this measurement's window once; a resumed rollout reuses it. In
        pod mode an unwritten window raises `ReplayInPod` instead of loading a model here."""
        window = self.window_of(steps, state)
        if self.storage.exists(window.target):
            return window.target
        if self.in_pod:
            raise ReplayInPod(window)
        if self._frame is None:  # read once per worker call, whatever the measurements
            self._frame = self.storage.read_frame(self.requests, self.format)
        return score_window(
            window, storage=self.storage, requests=self._frame, load_model=self.load_model
        )
