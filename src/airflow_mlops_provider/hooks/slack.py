"""SlackHook: the pipeline's Slack notifier from an Airflow connection."""

from __future__ import annotations

import logging

from airflow.sdk import BaseHook

from airflow_mlops_provider.adapters.slack import SlackNotifier
from airflow_mlops_provider.hooks.base import optional_connection

log = logging.getLogger(__name__)


class SlackHook(BaseHook):
    """Posts to one channel with the bot token of the connection `slack_conn_id` (its
    password; its host, when set, replaces Slack's API address: a proxy). Connections of type
    `slack` (the Slack provider's) work as they are. Without such a connection, or without a
    channel, messages are written to the task log instead.

    :param slack_conn_id: Airflow connection holding the bot token.
    :param channel: channel to post to (YAML `notifications.slack.channel`); None: log only.
    """

    conn_name_attr = "slack_conn_id"
    default_conn_name = "slack_default"
    conn_type = "mlops_slack"
    hook_name = "Slack notifications (MLOps provider)"

    def __init__(
        self, slack_conn_id: str = default_conn_name, *, channel: str | None = None
    ) -> None:
        super().__init__()
        self.slack_conn_id = slack_conn_id
        self.channel = channel
        self._notifier: SlackNotifier | None = None

    def get_conn(self) -> SlackNotifier:
        if self._notifier is None:
            self._notifier = self._build()
        return self._notifier

    def _build(self) -> SlackNotifier:
        if self.channel is None:
            return SlackNotifier()
        conn = optional_connection(self.slack_conn_id, "Slack notifications")
        if conn is None:
            log.info(
                "Slack: no Airflow connection %r, so messages go to the task log",
                self.slack_conn_id,
            )
            return SlackNotifier()
        return SlackNotifier(self.channel, conn.password or None, conn.host or None)
