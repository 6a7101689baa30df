"""Test app: a queue trigger with a queue output."""

import json

import azure.functions as func
from record import record

app = func.FunctionApp()


@app.queue_trigger(arg_name="msg", queue_name="%WORK_QUEUE%", connection="TEST_STORAGE")
@app.queue_output(arg_name="$return", queue_name="%DONE_QUEUE%", connection="TEST_STORAGE")
def on_message(msg: func.QueueMessage) -> str:
    body = msg.get_json()
    record("started", body["id"], dequeue_count=msg.dequeue_count, message_id=msg.id)
    if body.get("fail"):
        raise RuntimeError("failing on purpose")
    return json.dumps({"done": body["id"]})
