"""Traffic routers: where the canary's share of requests is set, promoted and reverted.

Every router answers the same four calls, each idempotent (the rollout repeats the last one
after a crash): `set_weight(challenger, champion, weight)`, `promote(version)`,
`rollback(champion)` and `current()`. `local` keeps its state in a JSON file in storage and
replays logged requests; `kserve` patches an InferenceService's `canaryTrafficPercent`.
"""

from __future__ import annotations

from typing import Any, Protocol


class Router(Protocol):
    def current(self) -> dict[str, Any]: ...

    def set_weight(self, challenger: str, champion: str | None, weight: int) -> dict[str, Any]: ...

    def promote(self, version: str) -> dict[str, Any]: ...

    def rollback(self, champion: str) -> dict[str, Any]: ...
