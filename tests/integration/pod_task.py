"""What Airflow does around a task that defers on a pod, without a scheduler: the task
instance's XCom and task state store, and the triggerer running the provider's trigger from its
serialised form. Shared by the training-pod and step-pod tests."""

from __future__ import annotations

import asyncio
import importlib
from types import SimpleNamespace
from typing import Any


class StateStore(dict):
    """Airflow 3.3's task_state_store (what `durable` pods persist their identity in)."""

    def set(self, key: str, value: Any) -> None:
        self[key] = value

    def delete(self, key: str) -> None:
        self.pop(key, None)


class TI(SimpleNamespace):
    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.xcoms.get((task_ids, key))

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def rebuilt(trigger: Any, **overrides: Any) -> Any:
    """The trigger as the triggerer gets it: from its serialised classpath and kwargs."""
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)(**{**kwargs, **overrides})


def trigger_event(deferred: Any, poll: float = 0.2) -> dict[str, Any]:
    """What the triggerer does: rebuild the trigger from its serialised form, run it to its
    first event (polling every `poll` seconds: fast by default, the stand-in pods are short)."""
    trigger = rebuilt(deferred.trigger, poll_interval=poll)

    async def first() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(asyncio.wait_for(first(), timeout=120))
