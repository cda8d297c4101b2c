"""What the hooks share: one connection lookup and one connection → URL rule."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops_provider.exceptions import ConnectionUnreadableError

if TYPE_CHECKING:
    from airflow.sdk import Connection


class ConnectionMisconfigured(ConnectionUnreadableError, AirflowFailException):
    """A connection whose configuration is wrong (unparseable, no host, missing although
    named): a retry cannot fix it, so the task fails at once. A connection that cannot be
    read for another reason (a secrets backend or the execution API not answering) stays a
    plain `ConnectionUnreadableError`, which Airflow retries."""


def optional_connection(conn_id: str, purpose: str) -> Connection | None:
    """The Airflow connection, or None only when no connection of that id is configured.

    Anything else fails loudly, naming the connection: a secrets backend that refuses, an
    execution API that cannot be reached, or an `AIRFLOW_CONN_<ID>` variable Airflow cannot
    parse (Airflow itself reports that one as "not defined", so it is checked here)."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        variable = f"AIRFLOW_CONN_{conn_id.upper()}"
        if os.environ.get(variable, "").strip():
            raise ConnectionMisconfigured(
                f"Airflow connection {conn_id!r} ({purpose}): {variable} is set but Airflow "
                "cannot parse it; write it as a connection URI or as JSON "
                '({"conn_type": ..., "host": ..., ...})'
            ) from None
        return None
    except Exception as exc:
        raise ConnectionUnreadableError(
            f"Airflow connection {conn_id!r} ({purpose}) is configured but cannot be read: "
            f"{type(exc).__name__}: {_redacted(str(exc))}"
        ) from None


def connection_url(conn: Connection, purpose: str, default_scheme: str = "http") -> str:
    """scheme://host[:port] of a connection: the host may carry its scheme, else the
    connection's schema (or `default_scheme`) is used. Login and password never go into it,
    because URLs are logged and passed around."""
    host = (conn.host or "").strip()
    if not host:
        raise ConnectionMisconfigured(
            f"Airflow connection {conn.conn_id!r} ({purpose}) has no host; set it to the "
            "server's address, e.g. https://mlflow.example.com"
        )
    if "://" not in host:
        host = f"{conn.schema or default_scheme}://{host}"
    return host.rstrip("/") + (f":{conn.port}" if conn.port else "")


def _redacted(text: str) -> str:
    """user:password@ in URIs an error message may quote, replaced: messages are logged."""
    return re.sub(r"://[^/\s@]+@", "://***@", text)
