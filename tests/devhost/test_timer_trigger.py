"""Timer triggers through devhost: a %Setting% schedule that fires, and the monitor's past-due run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.support.waiting import wait_until


def test_a_timer_fires_on_its_schedule_from_a_setting(scenario, devhost):
    host = devhost("timer_app", {"FAST_SCHEDULE": "*/1 * * * * *"})
    ticks = wait_until(
        lambda: len(scenario.events("fast")) >= 3 and scenario.events("fast"), what="three ticks"
    )
    assert all(t["past_due"] is False for t in ticks)
    assert not scenario.events("yearly")  # not due, and its monitor had no state: no run
    assert host.stop() == 0


def test_a_monitored_timer_that_missed_its_occurrence_runs_once_past_due(scenario, devhost):
    # The schedule state the host would have left when it last ran: next occurrence in the past.
    status = {"Last": None, "Next": (datetime.now(UTC) - timedelta(days=1)).isoformat(), "LastUpdated": None}
    blob = f"timers/{scenario.name('host')}/Host.Functions.yearly/status"
    hosts = scenario.blobs.get_container_client("azure-webjobs-hosts")
    if not hosts.exists():
        hosts.create_container()
    hosts.upload_blob(blob, json.dumps(status), overwrite=True)

    devhost("timer_app", {"FAST_SCHEDULE": "0 0 0 1 1 *"})
    [tick] = wait_until(lambda: scenario.events("yearly"), what="the past-due run")
    assert tick["past_due"] is True
    saved = wait_until(
        lambda: (s := json.loads(hosts.download_blob(blob).readall()))["Next"] != status["Next"] and s,
        what="the new schedule state",
    )
    assert datetime.fromisoformat(saved["Next"].replace("Z", "+00:00")) > datetime.now(UTC)
