"""devhost's log: what a request carries (NUL, line breaks, ESC in a route) is written escaped, so it can
neither forge a log line nor reach the terminal raw."""

from __future__ import annotations

import logging

import requests

from devhost.logformat import EscapingFormatter
from tests.devhost.conftest import FUNCTION_KEY


def test_control_characters_in_a_route_are_escaped_in_the_log(scenario, devhost):
    host = devhost("http_app")
    response = requests.get(
        f"{host.url}/api/hello/a%00b%0aINFO%20forged%0d%1b%5B31mred",
        params={"code": FUNCTION_KEY},
        timeout=10,
    )
    assert response.status_code == 200, host.output()[-3000:]
    assert response.text == "hello a\x00b\nINFO forged\r\x1b[31mred"  # the function itself gets the raw name
    host.stop()

    log = host.log.read_bytes()
    assert b"(GET /hello/a\\x00b\\nINFO forged\\r\\x1b[31mred)" in log
    for raw in (b"\x00", b"\x1b", b"\r"):
        assert raw not in log
    assert not [line for line in log.split(b"\n") if line.startswith(b"INFO forged")]


def test_a_traceback_keeps_its_frames_but_escapes_the_exception_text():
    record = logging.LogRecord("devhost", logging.ERROR, __file__, 1, "failed on %s", ("x\ny",), None)
    try:
        raise ValueError("bad\nERROR forged\x1b")
    except ValueError as error:
        record.exc_info = (ValueError, error, error.__traceback__)

    text = EscapingFormatter("%(levelname)s %(message)s").format(record)

    lines = text.split("\n")
    assert lines[0] == "ERROR failed on x\\ny"
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[2].startswith('  File "') and "test_logs.py" in lines[2]
    assert lines[-1] == "ValueError: bad\\nERROR forged\\x1b"
    assert "\x1b" not in text
