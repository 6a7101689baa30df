"""Queue triggers through devhost against real Azurite: base64 messages, outputs, poison, visibility delay."""

from __future__ import annotations

import json
import time

from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from tests.devhost.conftest import peek_json
from tests.support.waiting import wait_until


def _queues(scenario) -> tuple[dict[str, str], QueueClient]:
    values = {"WORK_QUEUE": scenario.name("work"), "DONE_QUEUE": scenario.name("done")}
    work = QueueClient.from_connection_string(
        scenario.conn_str, values["WORK_QUEUE"], message_encode_policy=TextBase64EncodePolicy()
    )
    work.create_queue()
    return values, work


def test_a_message_runs_the_function_and_its_output_is_sent(scenario, devhost):
    values, work = _queues(scenario)
    devhost("queue_app", values)
    work.send_message(json.dumps({"id": "m1"}))
    wait_until(lambda: peek_json(scenario.conn_str, values["DONE_QUEUE"]), what="the output message")
    assert peek_json(scenario.conn_str, values["DONE_QUEUE"]) == [{"done": "m1"}]
    [started] = scenario.events("started", "m1")
    assert started["dequeue_count"] == 1
    assert work.get_queue_properties().approximate_message_count == 0


def test_a_failing_message_goes_to_the_poison_queue_after_max_dequeue_count(scenario, devhost):
    values, work = _queues(scenario)
    host_json = {"extensions": {"queues": {"maxDequeueCount": 3, "visibilityTimeout": "00:00:00"}}}
    host = devhost("queue_app", values, host_json)
    work.send_message(json.dumps({"id": "bad", "fail": True}))
    poison = f"{values['WORK_QUEUE']}-poison"
    wait_until(lambda: peek_json(scenario.conn_str, poison), what="the poison message")
    assert peek_json(scenario.conn_str, poison) == [{"id": "bad", "fail": True}]
    assert sorted(e["dequeue_count"] for e in scenario.events("started", "bad")) == [1, 2, 3]
    assert "reached MaxDequeueCount of 3" in host.output()


def test_a_message_sent_with_a_visibility_delay_runs_after_the_delay(scenario, devhost):
    values, work = _queues(scenario)
    devhost("queue_app", values)
    sent_at = time.time()
    work.send_message(json.dumps({"id": "later"}), visibility_timeout=3)
    work.send_message(json.dumps({"id": "now"}))
    wait_until(lambda: scenario.events("started", "later"), what="the delayed message")
    [now] = scenario.events("started", "now")
    [later] = scenario.events("started", "later")
    assert later["at"] >= sent_at + 3  # never before the delay the sender asked for
    assert now["at"] < later["at"]
