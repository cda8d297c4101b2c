"""Who may see what: Airflow's own authentication and authorization, nothing of our own.

The user comes from Airflow's JWT — the UI's `_token` cookie or an `Authorization: Bearer`
header — through `airflow.api_fastapi.core_api.security.get_user`, the dependency Airflow's
own REST API uses. What they may read is asked of the configured auth manager: a report of a
DAG run needs read access to that DAG's task instances; a pipeline-wide page (the pipelines
view, monitoring status) needs read access to every DAG of the pipeline. A user who cannot
see a DAG cannot see its reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def can_read_dags(user: Any, dag_ids: Iterable[str]) -> bool:
    """Read access to every DAG named (task instances included), as the auth manager says."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import (
        DagAccessEntity,
        DagDetails,
    )

    manager = get_auth_manager()
    return all(
        manager.is_authorized_dag(
            method="GET",
            access_entity=DagAccessEntity.TASK_INSTANCE,
            details=DagDetails(id=dag_id, team_name=_team(dag_id)),
            user=user,
        )
        for dag_id in dag_ids
    )


def _team(dag_id: str) -> str | None:
    """The DAG's team when Airflow runs multi-team (one DB look-up), else None."""
    from airflow.configuration import conf

    if not conf.getboolean("core", "multi_team", fallback=False):
        return None
    from airflow.models.dag import DagModel

    return DagModel.get_team_name(dag_id)


def login_url(next_url: str) -> str:
    """The auth manager's login page, coming back to `next_url` after signing in."""
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_url_login(next_url=next_url)
