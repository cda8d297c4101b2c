"""The plugin's FastAPI app, mounted by the Airflow API server at `/mlops`:

    GET /mlops/reports/<pipeline>/<path>   a stored report (HTML or JSON) below the pipeline's
                                           root: runs/<dag_id>/<run>/<task>/drift.html, ...
    GET /mlops/pipelines                   the pipelines view (HTML; the UI's nav entry)
    GET /mlops/api/pipelines               the same data as JSON

Every route needs a signed-in Airflow user (the UI's session cookie or a Bearer token,
checked by Airflow's own `get_user`) with read access to the DAGs concerned (plugins/access.py).
Without a session, pages redirect to the login page and JSON answers 401.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from airflow_mlops_provider.plugins import access, files
from airflow_mlops_provider.plugins.catalog import Catalog, Pipeline, airflow_connection

log = logging.getLogger(__name__)
User = Annotated[Any, Depends(get_user)]  # Airflow's own: session cookie or Bearer JWT
OVERVIEW_DEADLINE_S = 20


def pipelines_folder() -> Path:
    """`[mlops] pipelines_folder`, else `[core] dags_folder`: where the pipeline YAMLs are."""
    from airflow.configuration import conf

    folder = conf.get("mlops", "pipelines_folder", fallback="") or conf.get("core", "dags_folder")
    return Path(folder).expanduser()


def create_app(catalog: Catalog | None = None) -> FastAPI:
    catalog = catalog or Catalog(pipelines_folder(), airflow_connection)
    app = FastAPI(title="MLOps reports and pipelines", docs_url=None, redoc_url=None)

    @app.exception_handler(HTTPException)
    async def signed_out(request: Request, exc: HTTPException) -> Response:
        """A page asked for without a valid session goes to the login page and back."""
        wants_page = "text/html" in request.headers.get("accept", "")
        if exc.status_code == 401 and wants_page:
            return RedirectResponse(access.login_url(str(request.url)), status_code=303)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.get("/reports/{pipeline}/{relative:path}")
    def report(pipeline: str, relative: str, user: User) -> Response:
        found = _pipeline(catalog, pipeline)
        try:
            target = files.target(found.storage, found.root, relative, found.dag_ids)
        except files.NotServed as exc:
            return _refusal(exc)
        if not access.can_read_dags(user, [target.dag_id] if target.dag_id else found.dag_ids):
            raise HTTPException(403, "You may not read this DAG's reports.")
        try:
            body = found.storage.read_bytes(target.location)
        except (FileNotFoundError, KeyError) as exc:
            return _refusal(files.NotServed(404, f"no such report ({exc.__class__.__name__})"))
        except Exception as exc:  # S3's NoSuchKey and friends
            if "NoSuchKey" in repr(exc) or "404" in repr(exc):
                return _refusal(files.NotServed(404, "no such report"))
            raise
        headers = files.REPORT_HEADERS if target.content_type.startswith("text/html") else None
        return Response(
            body, media_type=target.content_type, headers=headers or files.SECURITY_HEADERS
        )

    @app.get("/api/pipelines")
    def overview_json(user: User) -> JSONResponse:
        overviews, errors, hidden = _overviews(catalog, user)
        return JSONResponse(
            {
                "pipelines": overviews,
                "config_errors": [{"file": f, "message": m} for f, m in errors],
                "hidden": hidden,
            },
            headers=files.SECURITY_HEADERS,
        )

    @app.get("/pipelines", response_class=HTMLResponse)
    def overview_page(user: User) -> HTMLResponse:
        from airflow_mlops_provider.core.overview_html import render_overview
        from airflow_mlops_provider.links import airflow_base_url

        overviews, errors, hidden = _overviews(catalog, user)
        page = render_overview(overviews, errors, base=airflow_base_url(), hidden=hidden)
        return HTMLResponse(page, headers=files.PAGE_HEADERS)

    @app.get("/")
    def home() -> RedirectResponse:
        return RedirectResponse("pipelines", status_code=307)

    return app


def _pipeline(catalog: Catalog, name: str) -> Pipeline:
    """The pipeline, or 404 (access is checked on the DAGs the request concerns)."""
    found = catalog.get(name)
    if found is None:
        raise HTTPException(404, "No such pipeline.")
    return found


def _overviews(catalog: Catalog, user: Any) -> tuple[list[dict], list[tuple[str, str]], int]:
    """Every visible pipeline's overview, read side by side, each within OVERVIEW_DEADLINE_S:
    one unreachable store or registry shows as such and never holds up the others."""
    from concurrent.futures import ThreadPoolExecutor

    pipelines = list(catalog.pipelines().values())
    visible = [p for p in pipelines if access.can_read_dags(user, p.dag_ids)]
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mlops-overview")
    futures = [pool.submit(_overview, p) for p in visible]
    overviews = []
    for pipeline, future in zip(visible, futures, strict=True):
        try:
            overviews.append(future.result(timeout=OVERVIEW_DEADLINE_S))
        except Exception as exc:  # TimeoutError included
            log.warning("Pipeline %s: overview not read: %r", pipeline.name, exc)
            overviews.append(_unreadable(pipeline, exc))
    pool.shutdown(wait=False, cancel_futures=True)
    errors = [(e.file, e.message) for e in catalog.errors()]
    return overviews, errors, len(pipelines) - len(visible)


def _overview(pipeline: Pipeline) -> dict[str, Any]:
    from airflow_mlops_provider.plugins.overview import pipeline_overview

    registry = _read_registry(pipeline)
    return pipeline_overview(pipeline.spec, pipeline.storage, pipeline.root, registry)


def _read_registry(pipeline: Pipeline) -> Any:
    """The registry as the pipeline's tasks reach it: with the MLflow connection's
    credentials on each request (adapters/mlflow_auth), never in the environment."""
    from airflow_mlops_provider.adapters.mlflow_auth import authorization
    from airflow_mlops_provider.plugins.overview import RegistryView, read_registry

    tracking = pipeline.tracking()
    if tracking is None:
        return RegistryView(error="no MLflow registry yet")
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking.uri, registry_uri=tracking.uri)
    with authorization(tracking.authorization()):
        return read_registry(pipeline.spec, client)


def _unreadable(pipeline: Pipeline, exc: Exception) -> dict[str, Any]:
    spec = pipeline.spec
    return {
        "pipeline": spec.pipeline,
        "description": spec.description,
        "model": spec.model_name,
        "dag_ids": {kind: spec.dag_id(kind) for kind in ("training", "monitoring", "rollback")},
        "champion": None,
        "registry_error": "storage or registry not readable"
        + (f" within {OVERVIEW_DEADLINE_S} s" if isinstance(exc, TimeoutError) else "")
        + f": {type(exc).__name__}: {exc}",
    }


def _refusal(exc: files.NotServed) -> Response:
    return JSONResponse({"detail": exc.message}, status_code=exc.status)
