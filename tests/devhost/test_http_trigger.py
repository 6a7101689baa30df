"""HTTP triggers through devhost: routes, methods, function keys, body limit, errors, graceful stop."""

from __future__ import annotations

import threading

import requests

from tests.devhost.conftest import FUNCTION_KEY, MASTER_KEY
from tests.support.waiting import wait_until


def test_function_level_routes_need_a_key_in_the_header_or_the_code_query(scenario, devhost):
    host = devhost("http_app")
    url = f"{host.url}/api/hello/world"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, headers={"x-functions-key": "wrong"}, timeout=10).status_code == 401
    assert requests.get(url, params={"code": "wrong"}, timeout=10).status_code == 401

    by_header = requests.get(url, headers={"x-functions-key": FUNCTION_KEY}, timeout=10)
    assert (by_header.status_code, by_header.text, by_header.headers["X-Test"]) == (200, "hello world", "yes")
    assert requests.get(url, params={"code": FUNCTION_KEY}, timeout=10).text == "hello world"
    assert requests.get(url, params={"code": MASTER_KEY}, timeout=10).status_code == 200


def test_admin_routes_need_the_master_key_and_anonymous_ones_none(scenario, devhost):
    host = devhost("http_app")
    admin = f"{host.url}/api/admin-only"
    assert requests.get(admin, params={"code": FUNCTION_KEY}, timeout=10).status_code == 401
    assert requests.get(admin, params={"code": MASTER_KEY}, timeout=10).text == "admin ok"
    echo = requests.post(f"{host.url}/api/echo", data=b"\x00\x01body", timeout=10)
    assert (echo.status_code, echo.content) == (200, b"\x00\x01body")


def test_route_params_constraints_and_query_reach_the_function(scenario, devhost):
    host = devhost("http_app")
    key = {"x-functions-key": FUNCTION_KEY}
    full = requests.put(f"{host.url}/api/items/42/red", params={"q": "1"}, headers=key, timeout=10)
    assert full.status_code == 201 and full.headers["content-type"].startswith("application/json")
    assert full.json() == {"route": {"id": "42", "tag": "red"}, "params": {"q": "1"}, "method": "PUT"}
    optional = requests.get(f"{host.url}/api/items/7", headers=key, timeout=10)
    assert optional.json()["route"] == {"id": "7"}
    assert requests.get(f"{host.url}/api/items/seven", headers=key, timeout=10).status_code == 404


def test_unknown_routes_are_404_and_wrong_methods_405(scenario, devhost):
    host = devhost("http_app")
    key = {"x-functions-key": FUNCTION_KEY}
    assert requests.get(f"{host.url}/api/nothing-here", headers=key, timeout=10).status_code == 404
    assert (
        requests.get(f"{host.url}/hello/world", headers=key, timeout=10).status_code == 404
    )  # no /api prefix
    wrong = requests.post(f"{host.url}/api/hello/world", headers=key, timeout=10)
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET"
    assert requests.get(f"{host.url}/api/echo", timeout=10).status_code == 405


def test_a_body_over_the_limit_is_413_and_a_raising_function_500(scenario, devhost):
    host = devhost("http_app", {"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "1000"})
    assert requests.post(f"{host.url}/api/echo", data=b"x" * 1000, timeout=10).status_code == 200
    assert requests.post(f"{host.url}/api/echo", data=b"x" * 1001, timeout=10).status_code == 413
    assert requests.get(f"{host.url}/api/broken", timeout=10).status_code == 500
    assert "failing on purpose" in host.output()


def test_ctrl_c_waits_for_the_running_invocation(scenario, devhost):
    host = devhost("http_app")
    responses: list[requests.Response] = []
    caller = threading.Thread(
        target=lambda: responses.append(requests.post(f"{host.url}/api/slow?seconds=2", timeout=60))
    )
    caller.start()
    wait_until(lambda: scenario.events("slow", "started"), what="the slow invocation to start")
    assert host.stop() == 0
    caller.join(60)
    assert scenario.events("slow", "finished")
    assert [(r.status_code, r.text) for r in responses] == [(200, "slow done")]
    assert "Host stopped" in host.output()
