"""Slack notifications through slack-sdk; without a token the message is logged instead.

Failures to reach Slack never fail the pipeline: an alert that cannot be delivered is logged
with the reason, and the decision it reports has already been recorded in the audit log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)
MAX_RETRY_AFTER_S = 10  # wait out a short rate limit once; a longer one is not worth a worker


@dataclass(frozen=True)
class SlackNotifier:
    """`notify(text) -> status` for one channel; no channel or token: messages are logged."""

    channel: str | None = None
    token: str | None = field(default=None, repr=False)
    base_url: str | None = None

    def __call__(self, text: str) -> str:
        return send(text, channel=self.channel, token=self.token, base_url=self.base_url)


def send(text: str, *, channel: str | None, token: str | None, base_url: str | None = None) -> str:
    """Post text; return "sent", "logged" (Slack not configured) or "failed: reason".

    base_url overrides Slack's API address (a proxy, or a local endpoint in tests)."""
    if not channel or not token:
        log.info("Slack is not configured (notifications.slack); message:\n%s", text)
        return "logged"
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    try:
        options = {"base_url": base_url} if base_url else {}
        client = WebClient(token=token, timeout=10, retry_handlers=_retry_handlers(), **options)
        client.chat_postMessage(channel=channel, text=text)
    except (SlackApiError, OSError) as exc:
        reason = getattr(getattr(exc, "response", None), "data", None) or str(exc)
        log.warning("Slack message to %s not delivered (%s); message:\n%s", channel, reason, text)
        return f"failed: {reason}"
    return "sent"


def _retry_handlers() -> list[Any]:
    """One retry after a dropped connection, and one after a 429 whose Retry-After is at most
    MAX_RETRY_AFTER_S (slack-sdk's own handler would sleep for any Retry-After, holding the
    worker slot for as long as Slack asks)."""
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
    )

    class BoundedRateLimitRetry(RateLimitErrorRetryHandler):
        def _can_retry(self, *, state: Any, request: Any, response: Any = None, error: Any = None):
            if not super()._can_retry(state=state, request=request, response=response):
                return False
            headers = {k.lower(): v for k, v in response.headers.items()}
            wait = (headers.get("retry-after") or ["1"])[0]
            return wait.isdigit() and int(wait) <= MAX_RETRY_AFTER_S

    return [
        ConnectionErrorRetryHandler(max_retry_count=1),
        BoundedRateLimitRetry(max_retry_count=1),
    ]
