"""The drift check fanned out: one plan, one scan per slice of the batch, one reduce.

`data.fanout` turns `detect_drift` into Airflow mapped tasks (docs/data.md, "Fan-out"). The
plan pins the batch's files and the champion whose reference profile every slice is scanned
on (a promotion during the run cannot mix two references); each map scans its slice into the
profile's buckets and returns the counts as JSON (adapters/fanout.py); the reduce merges them
and decides exactly as the single task does (services/drift.py: the same report, audit and
route). Without a champion the plan has no slices and the reduce takes the no-champion route.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.services.fanout_validation import StalePlan

if TYPE_CHECKING:
    from airflow_mlops_provider.adapters.mlflow_registry import Version
    from airflow_mlops_provider.core.drift_profile import DriftProfile
    from airflow_mlops_provider.services.drift import DriftDecision, DriftRoutes, Interval
    from airflow_mlops_provider.services.runtime import Runtime
    from airflow_mlops_provider.spec import DriftSpec, FanoutSpec, Features


def plan_drift(rt: Runtime, *, current_uri: str, fanout: FanoutSpec) -> dict[str, Any]:
    """The slice plan of the batch at `current_uri` and the champion it is compared with;
    no slices without a champion."""
    from airflow_mlops_provider.adapters.fanout import plan_slices
    from airflow_mlops_provider.adapters.mlflow_registry import CHAMPION

    champion = rt.registry.by_alias(CHAMPION)
    if champion is None:
        return {"kind": "slice_plan", "champion": None, "current": current_uri, "slices": []}
    plan = plan_slices(rt.storage, current_uri, **fanout.planning())
    return {**plan, "champion": champion.version, "current": current_uri}


def scan_slice(
    rt: Runtime,
    plan: Mapping[str, Any],
    batch_slice: Mapping[str, Any],
    *,
    drift: DriftSpec,
    features: Features,
    prediction_column: str | None,
) -> dict[str, Any]:
    """One slice's bucket counts on the planned champion's reference profile (JSON)."""
    from airflow_mlops_provider.adapters.fanout import BatchChanged, drift_map
    from airflow_mlops_provider.services.drift import judge_settings

    _, profile, _ = _reference(rt, plan, features)
    settings = judge_settings(drift, prediction_column)
    try:
        return drift_map(
            rt.storage, plan, batch_slice, profile, prediction_column=settings["prediction_column"]
        )
    except BatchChanged as exc:
        raise StalePlan(str(exc)) from None


def reduce_drift(
    rt: Runtime,
    plan: Mapping[str, Any],
    scans: Sequence[Mapping[str, Any] | None],
    *,
    drift: DriftSpec,
    features: Features,
    routes: DriftRoutes,
    prediction_column: str | None,
    forced_reason: str | None,
    data_interval: Interval | None,
) -> DriftDecision:
    """The single task's decision from the slices' scans."""
    from airflow_mlops_provider.adapters.fanout import drift_reduce
    from airflow_mlops_provider.services.drift import (
        Compared,
        decide,
        judge_settings,
        no_champion,
    )

    if plan["champion"] is None:
        return no_champion(rt, routes)
    if len(scans) != len(plan["slices"]) or any(scan is None for scan in scans):
        done = sum(scan is not None for scan in scans)
        raise StalePlan(f"{done} of {len(plan['slices'])} planned slices have a result")
    champion, profile, reference_uri = _reference(rt, plan, features)
    report = drift_reduce(profile, scans, judge_settings(drift, prediction_column))  # type: ignore[arg-type]
    compared = Compared(plan["current"], reference_uri, champion, data_interval)
    return decide(rt, report, compared, routes, forced_reason)


def _reference(
    rt: Runtime, plan: Mapping[str, Any], features: Features
) -> tuple[Version, DriftProfile, str]:
    """The planned champion, its reference profile and where the profile came from."""
    from airflow_mlops_provider.services.references import reference_of

    champion = rt.registry.get_version(plan["champion"])
    return (champion, *reference_of(rt, features, champion))
