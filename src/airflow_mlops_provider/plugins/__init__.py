"""The provider's Airflow 3 plugin: reports over http, the pipelines view, run notes.

Registered through the `airflow.plugins` entry point of this package (setup.cfg), so
installing the provider is all it takes. It adds:

- a FastAPI app at `/mlops` in the API server (plugins/app.py): stored reports and the
  pipelines view, behind Airflow's authentication and authorization;
- an external view "MLOps pipelines" in the UI's navigation, showing that view in the UI;
- a listener that writes each pipeline DAG run's decisions as the run's note
  (plugins/run_notes.py).

Importing this module is cheap (workers and the DAG processor load plugins too): the
FastAPI app is built on its first request.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_mlops_provider.links import URL_PREFIX, VIEW_ROUTE
from airflow_mlops_provider.plugins import run_notes


class _LazyApp:
    """An ASGI app that builds the real one on first use (FastAPI and the catalog are not
    imported by every process that loads plugins)."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            from airflow_mlops_provider.plugins.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class MlopsPlugin(AirflowPlugin):
    name = "mlops"
    fastapi_apps = [{"app": _LazyApp(), "url_prefix": URL_PREFIX, "name": "MLOps reports"}]
    external_views = [
        {
            "name": "MLOps pipelines",
            "href": f"{URL_PREFIX}/pipelines",
            "url_route": VIEW_ROUTE,
            "destination": "nav",
            "category": "browse",
        }
    ]
    listeners = [run_notes]
