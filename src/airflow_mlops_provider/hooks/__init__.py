"""Airflow connections → the clients the services use (MLflow, S3 storage, Prometheus, Slack).

Each hook is Airflow-style (`conn_name_attr`, `default_conn_name`, `conn_type`, a cached
`get_conn()`), reads its connection only when `get_conn()` is called, and tells "no such
connection" (the embedded default: a clear INFO line, then the local fallback) from "a
connection that cannot be read" (an error naming the connection). Nothing heavy is imported
at module level: hooks are imported while DAG files are parsed.
"""
