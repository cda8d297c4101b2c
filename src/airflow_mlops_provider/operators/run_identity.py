"""The run's batch in every task whose templates name data (core/run_batch.py decides it).

`BatchTemplated` goes before the Airflow base class of an operator or sensor with templated
data paths: before its templates render, the run's batch is resolved and `batch`, `ds` and
`ds_nodash` are set from it, so `dt={{ ds }}` renders in asset-triggered runs too (Airflow 3
gives them no logical date) and names the batch the run was asked for. A batch or template
that cannot be rendered is a configuration error: the task fails at once, without retries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops_provider.core.run_batch import PARAM, BatchError, RunBatch, resolve_batch

if TYPE_CHECKING:
    from airflow.sdk import Context


def run_batch(context: Context) -> RunBatch:
    """This run's batch: the `batch` param, the triggering retrain request, the logical date,
    else run_after. A malformed batch fails the task without retries."""
    dag_run = context["dag_run"]
    try:
        return resolve_batch(
            param=(context.get("params") or {}).get(PARAM),
            requests=request_extras(context),
            logical_date=context.get("logical_date"),
            run_after=getattr(dag_run, "run_after", None),
        )
    except BatchError as exc:
        raise AirflowFailException(f"{dag_run.dag_id} {dag_run.run_id}: {exc}") from None


def request_extras(context: Context) -> list[dict[str, Any]]:
    """The extras of the Asset events that triggered the run, oldest first."""
    events = [e for found in (context.get("triggering_asset_events") or {}).values() for e in found]
    events.sort(key=lambda e: e.timestamp)
    return [dict(e.extra or {}) for e in events]


class BatchTemplated:
    """Mixin: resolve the run's batch before rendering, and fail (no retries) on a template
    that cannot render, naming the field and the batch."""

    template_fields: Any

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        import jinja2

        identity = run_batch(context)
        context.update(identity.template_values())  # type: ignore[typeddict-item]
        self.log.info("Batch %s (from %s)", identity.batch, identity.origin)  # type: ignore[attr-defined]
        try:
            super().render_template_fields(context, jinja_env)  # type: ignore[misc]
        except jinja2.TemplateError as exc:
            fields = ", ".join(self.template_fields)
            raise AirflowFailException(
                f"{self.task_id}: the template of {fields} cannot be rendered for batch "  # type: ignore[attr-defined]
                f"{identity.batch}: {exc}. Templates may use {{{{ batch }}}}, {{{{ ds }}}} and "
                "{{ ds_nodash }} (the batch's day) and Airflow's other context values"
            ) from None
