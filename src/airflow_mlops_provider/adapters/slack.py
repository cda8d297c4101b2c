"""Slack notifications through slack-sdk; without a token the message is logged instead.

Failures to reach Slack never fail the pipeline: an alert that cannot be delivered is logged
with the reason, and the decision it reports has already been recorded in the audit log.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


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
        client = WebClient(token=token, timeout=10, **options)
        client.chat_postMessage(channel=channel, text=text)
    except (SlackApiError, OSError) as exc:
        reason = getattr(getattr(exc, "response", None), "data", None) or str(exc)
        log.warning("Slack message to %s not delivered (%s); message:\n%s", channel, reason, text)
        return f"failed: {reason}"
    return "sent"
