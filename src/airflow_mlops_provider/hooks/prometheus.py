"""PrometheusHook: the base URL of a Prometheus server from an Airflow connection."""

from __future__ import annotations

from airflow.sdk import BaseHook

from airflow_mlops_provider.hooks.base import (
    ConnectionMisconfigured,
    connection_url,
    optional_connection,
)


class PrometheusHook(BaseHook):
    """The canary's Prometheus (YAML `canary.prometheus.url_connection`): host, schema and
    port of the connection give the URL of the HTTP API, queried with the standard library
    (adapters/metric_sources/prometheus.py). Here a missing connection is an error: the YAML
    names it, so it is meant to exist.

    :param prometheus_conn_id: Airflow connection of the Prometheus server.
    """

    conn_name_attr = "prometheus_conn_id"
    default_conn_name = "prometheus_default"
    conn_type = "mlops_prometheus"
    hook_name = "Prometheus (MLOps provider)"

    def __init__(self, prometheus_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.prometheus_conn_id = prometheus_conn_id
        self._url: str | None = None

    def get_conn(self) -> str:
        """The server's base URL, e.g. http://prometheus:9090."""
        if self._url is None:
            purpose = "canary.prometheus.url_connection"
            conn = optional_connection(self.prometheus_conn_id, purpose)
            if conn is None:
                raise ConnectionMisconfigured(
                    f"{purpose}: Airflow connection {self.prometheus_conn_id!r} does not "
                    "exist; create it with the Prometheus server's host and port"
                )
            self._url = connection_url(conn, purpose)
        return self._url
