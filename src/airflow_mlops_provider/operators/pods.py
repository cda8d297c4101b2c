"""Running part of a task in a Kubernetes pod: start it, defer while it runs, come back.

Shared by the retrain task (a training pod) and the steps `compute:` places on kubernetes
(validation, drift, evaluation, monitoring's scoring, and the canary's replay — one pod per
measurement window). The cncf-kubernetes provider's KubernetesPodOperator is used
inside the task (composition, DESIGN.md §6): its `execute_async` creates the pod (or reattaches
to the one an earlier try left running) and raises TaskDeferred, which the task turns into its
own deferral on the provider's KubernetesPodTrigger, resuming in `execute_complete`; there the
operator's `trigger_reentry` copies the pod's log into the task's, deletes a succeeded pod and
fails on a failed one. No worker slot is held while the pod runs; killing the deferred task
deletes the pod (the trigger's on_kill), killing it while a worker holds it too (`on_kill`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.sdk import Context

    from airflow_mlops_provider.services.config import PipelineConfig
    from airflow_mlops_provider.services.runtime import Runtime
    from airflow_mlops_provider.services.steps import StepOutcome
    from airflow_mlops_provider.spec import StepPod

STEP_CARRIED = "mlops_step"  # the trigger event's key for where the step's outcome is


class DefersToPod:
    """Mixin for an operator that runs a pod operator's pod inside its own task."""

    _pod: Any = None  # the pod operator this worker is starting or finishing
    image_field = "training.image"  # the YAML field naming the pod's image, for its errors

    def watch_pod(
        self, pod: Any, step: Callable[[], object], failed: Callable[[str], Exception]
    ) -> None:
        """Run one step of the pod operator (`execute_async` or `trigger_reentry`); when it
        defers, defer this task instead, so the trigger's event comes back to
        `execute_complete`. A failed pod raises `failed(why in one line)`."""
        from airflow.providers.common.compat.sdk import AirflowException, TaskDeferred

        self._pod = pod
        try:
            step()
        except TaskDeferred as deferred:
            self.defer(  # type: ignore[attr-defined]
                trigger=deferred.trigger, method_name="execute_complete", timeout=deferred.timeout
            )
        except AirflowException as exc:
            raise failed(_one_line(pod, exc, self.image_field)) from None

    def on_kill(self) -> None:
        """Delete the pod this worker is starting or finishing. While the task is deferred no
        worker holds it: the provider's trigger deletes the pod on a kill."""
        if self._pod is not None:
            self._pod.on_kill()


def _one_line(pod: Any, error: Exception, image_field: str) -> str:
    from airflow_mlops_provider.execution.kubernetes import STEP_LABEL, pod_failure

    what = pod.labels.get(STEP_LABEL, "training")
    return pod_failure(pod, error, what=what, image_field=image_field)


def delete_leftover_pod(pod: Any, context: Context) -> None:
    """Delete a succeeded pod of this task that nothing will read any more: its try ended
    after the pod did, before it resumed (a worker died), and the retry found the work done
    (the model registered, the step's outcome stored). A failed pod is kept for kubectl logs;
    a pod still running is not this function's (the retry reattaches to it instead)."""
    namespace = pod.namespace
    try:
        found = pod.find_pod(namespace, context)
    except Exception as exc:  # best effort: the work is done, the pod holds nothing
        pod.log.warning("Could not look for a leftover pod in %s: %s", namespace, exc)
        return
    phase = getattr(getattr(found, "status", None), "phase", None)
    if found is not None and phase == "Succeeded":
        pod.log.info("Deleting leftover pod %s/%s (succeeded)", namespace, found.metadata.name)
        pod.process_pod_deletion(found, reraise=False)


def forget_pod(context: Context) -> None:
    """Drop a finished, deleted pod's identity from the task state store, where the provider
    keeps it to reattach on a retry: the next pod of the same task (the canary's next replay
    window) would otherwise look it up first and log that it no longer exists."""
    from airflow.providers.cncf.kubernetes.operators import pod as pod_module

    key = getattr(pod_module, "POD_IDENTIFIER_STATE_KEY", None)  # providers before 10.2x: none
    store = context.get("task_state_store")
    if key is not None and store is not None and store.get(key) is not None:
        store.delete(key)


class RunsStepOnPod(DefersToPod):
    """Mixin for a step operator with `compute: local | kubernetes`: `run_step` calls the
    step's service in the worker, or stores its request and runs it in a pod
    (services/steps.py), deferring; `step_result` reads the pod's outcome back in
    `execute_complete`. Either way the operator gets the same value, or the same exception,
    and goes on the same way. The operator sets `step` (the `compute:` key), `pod`
    (`StepPod` or None) and `pipeline`."""

    step: str
    pod: StepPod | None
    pipeline: PipelineConfig
    task_id: str

    def run_step(
        self, context: Context, rt: Runtime, inputs: dict[str, Any], part: str | None = None
    ) -> dict[str, Any]:
        """`part`: which of several pods of one task this is (the canary's windows), so each
        has its own request and outcome."""
        from airflow_mlops_provider.services import steps

        if self.pod is None:
            return steps.run_step(self.step, rt, inputs)
        return self._run_in_pod(context, rt, inputs, part)

    @property
    def image_field(self) -> str:  # type: ignore[override]
        """`training.image` when the step's pod runs the trainer's image by default."""
        defaulted = self.pod is not None and self.pod.image_defaulted
        return "training.image" if defaulted else f"compute.{self.step}.image"

    def located(self, rt: Runtime, location: str) -> str:
        """A location as the step's service gets it: as written in the worker (the service
        resolves it), resolved here for a pod — which has no project folder — where local
        paths are confined to the allowed roots."""
        return location if self.pod is None else rt.storage.resolve(location)

    def step_result(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """In `execute_complete`: the pod's log and clean-up (the provider's re-entry, which
        also fails the task on a failed pod), then its outcome."""
        from airflow_mlops_provider.operators.runtime import build_runtime

        rt = build_runtime(self.pipeline, context)
        result_uri = event[STEP_CARRIED]["result"]
        # No environment: re-entry only watches and cleans up the pod the request started.
        pod = self._pod_operator(request_uri="", result_uri=result_uri, env={})
        failed = self._failed(rt, result_uri)
        self.watch_pod(pod, lambda: pod.trigger_reentry(context, event), failed)
        forget_pod(context)
        return self._outcome(context, rt, result_uri)

    def _run_in_pod(
        self, context: Context, rt: Runtime, inputs: dict[str, Any], part: str | None
    ) -> dict[str, Any]:
        """Reuse the outcome an earlier try's pod stored in this clear cycle; else store the
        request and start (or reattach to) the pod, and defer."""
        from airflow_mlops_provider.operators.runtime import attempt_of
        from airflow_mlops_provider.services import steps

        storage = rt.storage
        cycle = [steps.STEP_FOLDER, str(attempt_of(context).first_try), *filter(None, [part])]
        folder = rt.task_folder(*cycle)
        request_uri = storage.join(folder, "request.json")
        result_uri = storage.join(folder, "result.json")
        pod = self._pod_operator(request_uri=request_uri, result_uri=result_uri, env=self._env(rt))
        earlier = self._stored(rt, result_uri)
        if earlier is not None and not earlier.crashed:
            self.log.info("The %s pod of an earlier try finished: using its result", self.step)  # type: ignore[attr-defined]
            delete_leftover_pod(pod, context)
            return self._replay(context, rt, earlier)
        storage.write_text(request_uri, self._request(rt, inputs, result_uri))
        self.watch_pod(pod, lambda: pod.execute_async(context), self._failed(rt, result_uri))
        # Not deferred: the pod had already ended when this try found it.
        return self._outcome(context, rt, result_uri)

    def _request(self, rt: Runtime, inputs: dict[str, Any], result_uri: str) -> str:
        """The stored request: the pipeline's settings with its storage root resolved (the pod
        has no project folder), this task, the inputs, where the outcome goes."""
        from airflow_mlops_provider.services import steps

        storage = self.pipeline.storage
        resolved = storage.model_copy(update={"root": rt.storage.resolve(storage.root)})
        task = rt.task
        return steps.request(
            self.step,
            config=self.pipeline.model_copy(update={"storage": resolved}).model_dump(mode="json"),
            task={"dag_id": task.dag_id, "run_id": task.run_id, "task_id": task.task_id},
            inputs=inputs,
            result=result_uri,
        )

    def _env(self, rt: Runtime) -> dict[str, str]:
        """The tracking URI, for the steps that read MLflow (only they resolve its
        connection)."""
        from airflow_mlops_provider.execution.kubernetes import step_env
        from airflow_mlops_provider.spec.compute import MODEL_STEPS

        return step_env(rt.registry.tracking.uri) if self.step in MODEL_STEPS else {}

    def _pod_operator(self, *, request_uri: str, result_uri: str, env: dict[str, str]) -> Any:
        """The step's pod operator; where its outcome goes travels in the trigger's event (the
        provider's `trigger_kwargs`), which reaches `execute_complete` in every runner."""
        from airflow_mlops_provider.execution.kubernetes import step_pod

        assert self.pod is not None
        operator = step_pod(
            self.pod,
            step=self.step,
            request_uri=request_uri,
            pipeline=self.pipeline.pipeline,
            kubernetes_conn_id=self.pipeline.connections.kubernetes,
            task_id=self.task_id,
            env=env,
        )
        operator.trigger_kwargs = {STEP_CARRIED: {"result": result_uri}}
        return operator

    def _outcome(self, context: Context, rt: Runtime, result_uri: str) -> dict[str, Any]:
        outcome = self._stored(rt, result_uri)
        if outcome is None:
            from airflow_mlops_provider.exceptions import MlopsError

            raise MlopsError(
                f"the {self.step} pod ended without storing its result at {result_uri}; "
                "its log is above, and a retry runs the step again"
            )
        return self._replay(context, rt, outcome)

    @staticmethod
    def _stored(rt: Runtime, result_uri: str) -> StepOutcome | None:
        from airflow_mlops_provider.services.steps import StepOutcome

        if not rt.storage.exists(result_uri):
            return None
        return StepOutcome.from_json(rt.storage.read_text(result_uri))

    @staticmethod
    def _replay(context: Context, rt: Runtime, outcome: StepOutcome) -> dict[str, Any]:
        """What the step did in the worker's stead: its links to XCom, its messages to the
        notifier, then its value (or its answer, raised)."""
        for key, value in outcome.published:
            context["ti"].xcom_push(key=key, value=value)
        for text in outcome.notices:
            rt.notify(text)
        return outcome.value_or_raise()

    def _failed(self, rt: Runtime, result_uri: str) -> Callable[[str], Exception]:
        """A failed pod's error: its status in one line, and the step's own one line when it
        stored one before failing."""
        from airflow_mlops_provider.exceptions import MlopsError

        def failed(why: str) -> Exception:
            try:
                outcome = self._stored(rt, result_uri)
            except Exception:  # the status line alone still says what happened
                outcome = None
            error = outcome.error if outcome is not None else None
            said = f": {error['kind']}: {error['message'].splitlines()[0]}" if error else ""
            return MlopsError(f"{why}{said}; its log is above (a failed pod is kept for kubectl "
                              "logs); a retry runs the step again")  # fmt: skip

        return failed
