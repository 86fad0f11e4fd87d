"""HTTP JSON APIs through the CLI, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from conftest import table_rows, write_project
from dataspoc_pipe.errors import ExitCode

TOKEN = "tok-Very-Secret-9"
ORDERS = [{"id": i, "updated_at": f"2026-11-{10 + i:02d}T00:00:00Z", "customer": {"id": i % 3}} for i in range(1, 8)]


def pipeline(tmp_path, source: dict):
    write_project(tmp_path, {"orders": {"source": {"kind": "http", **source}, "target": {"namespace": "shop"}}})


def rows(tmp_path):
    return sorted(table_rows(str(tmp_path / "bucket"), "raw/shop/orders"), key=lambda r: r["id"])


def run(pipe, *args, env=None):
    result = pipe("run", "orders", "--json", *args, env=env)
    assert result.code == ExitCode.OK, result.stderr
    return result.json()[0]


def test_page_numbers_headers_from_the_environment_and_a_cursor(pipe, tmp_path, api):
    def orders(request):
        if request["headers"].get("Authorization") != f"Bearer {TOKEN}":
            return 401, {}, {"error": "unauthorized"}
        since = request["query"].get("updated_since", "")
        chosen = [o for o in ORDERS if o["updated_at"] >= since]  # inclusive, as most APIs are
        page, size = int(request["query"]["page"]), int(request["query"]["per_page"])
        return 200, {}, {"data": {"items": chosen[(page - 1) * size : page * size]}}

    api.routes["/v1/orders"] = orders
    pipeline(
        tmp_path,
        {
            "url": f"{api.url}/v1/orders",
            "headers": {"Authorization": "Bearer ${API_TOKEN}"},
            "records": "data.items",
            "pagination": {"type": "page", "size_param": "per_page", "size": 3},
            "cursor": {"field": "updated_at", "param": "updated_since"},
        },
    )
    env = {"API_TOKEN": TOKEN}
    assert run(pipe, env=env)["rows_written"] == 7
    assert [r["query"]["page"] for r in api.requests] == ["1", "2", "3"]
    first = rows(tmp_path)[0]
    assert first == {"id": 1, "updated_at": "2026-11-11T00:00:00Z", "customer": {"id": 1}}

    ORDERS.append({"id": 8, "updated_at": "2026-11-30T00:00:00Z", "customer": {"id": 2}})
    try:
        again = run(pipe, env=env)
    finally:
        ORDERS.pop()
    assert again["rows_written"] == 1  # the bookmark's own record is not read again
    assert api.requests[-1]["query"]["updated_since"] == "2026-11-17T00:00:00Z"
    assert run(pipe, env=env)["status"] == "no_new_data"

    denied = pipe("run", "orders", env={"API_TOKEN": "wrong-token"})
    assert denied.code == ExitCode.USAGE and "401" in denied.stderr and "wrong-token" not in denied.stderr
    bucket_text = "".join(p.read_text() for p in (tmp_path / "bucket" / ".dataspoc").rglob("*.json"))
    assert TOKEN not in bucket_text


def test_offset_cursor_and_link_pagination(pipe, tmp_path, api):
    api.routes["/offset"] = lambda r: (200, {}, ORDERS[int(r["query"]["offset"]) : int(r["query"]["offset"]) + 2])
    pipeline(tmp_path, {"url": f"{api.url}/offset", "pagination": {"type": "offset", "size_param": "limit", "size": 2}})
    assert run(pipe)["rows_written"] == 7

    def by_token(request):
        start = int(request["query"].get("after", 0))
        nxt = start + 3 if start + 3 < len(ORDERS) else None
        return 200, {}, {"results": ORDERS[start : start + 3], "meta": {"next": nxt}}

    api.routes["/token"] = by_token
    pipeline(
        tmp_path,
        {
            "url": f"{api.url}/token",
            "records": "results",
            "pagination": {"type": "cursor", "param": "after", "path": "meta.next"},
        },
    )
    assert run(pipe, "--full")["rows_written"] == 7

    def linked(request):
        page = int(request["query"].get("p", 1))
        headers = {"Link": f'</link?p={page + 1}>; rel="next"'} if page < 4 else {}
        return 200, headers, ORDERS[(page - 1) * 2 : page * 2]

    api.routes["/link"] = linked
    pipeline(tmp_path, {"url": f"{api.url}/link", "pagination": {"type": "link"}})
    assert run(pipe, "--full")["rows_written"] == 7


def test_retries_honour_retry_after_then_give_up(pipe, tmp_path, api):
    calls = []

    def flaky(request):
        calls.append(1)
        if len(calls) <= 2:
            return (503 if len(calls) == 1 else 429), {"Retry-After": "0"}, b"busy"
        return 200, {}, ORDERS[:2]

    api.routes["/flaky"] = flaky
    pipeline(tmp_path, {"url": f"{api.url}/flaky", "backoff": 0})
    assert run(pipe)["rows_written"] == 2 and len(calls) == 3

    api.routes["/down"] = lambda r: (500, {}, b"<html>oops</html>")
    pipeline(tmp_path, {"url": f"{api.url}/down", "retries": 2, "backoff": 0})
    down = pipe("run", "orders")
    assert down.code == ExitCode.STORAGE and "answered 500" in down.stderr and "3 times" in down.stderr


def test_html_or_a_wrong_records_path_is_named(pipe, tmp_path, api):
    api.routes["/html"] = lambda r: (200, {"Content-Type": "text/html"}, b"<html><body>Login</body></html>")
    pipeline(tmp_path, {"url": f"{api.url}/html?token=${{API_TOKEN}}"})
    html = pipe("run", "orders", env={"API_TOKEN": TOKEN})
    assert html.code == ExitCode.DATA and "text/html, not JSON" in html.stderr and "<html>" in html.stderr
    assert TOKEN not in html.stderr and "token=***" in html.stderr

    api.routes["/obj"] = lambda r: (200, {}, {"data": {"items": {"id": 1}}})
    pipeline(tmp_path, {"url": f"{api.url}/obj", "records": "data.items"})
    wrong = pipe("run", "orders")
    assert wrong.code == ExitCode.DATA and "'data.items' is a dict" in wrong.stderr

    api.routes["/mixed"] = lambda r: (200, {}, [{"id": 1}, {"id": "two"}])
    pipeline(tmp_path, {"url": f"{api.url}/mixed"})
    mixed = pipe("run", "orders")
    assert mixed.code == ExitCode.DATA and "page 1, record 2" in mixed.stderr and "'id'" in mixed.stderr
    assert not list((tmp_path / "bucket").rglob("*.parquet"))


def test_unreachable_api(pipe, tmp_path, closed_port):
    pipeline(tmp_path, {"url": f"http://127.0.0.1:{closed_port}/x", "retries": 1, "backoff": 0})
    result = pipe("run", "orders")
    assert result.code == ExitCode.STORAGE and "cannot reach" in result.stderr


def test_a_secret_in_the_url_is_hidden_percent_encoded_and_in_dry_runs(pipe, tmp_path, api):
    secret = "s3cr3t/Tok+en=="
    api.routes["/gone"] = lambda r: (404, {}, {"error": "gone"})
    pipeline(tmp_path, {"url": f"{api.url}/gone", "params": {"api_key": "${API_KEY}"}})
    env = {"API_KEY": secret}
    failed = pipe("run", "orders", env=env)
    assert failed.code == ExitCode.DATA and "404" in failed.stderr
    plan = pipe("run", "orders", "--dry-run", "--json", env=env)
    assert plan.code == ExitCode.OK, plan.stderr
    logs = "".join(p.read_text() for p in (tmp_path / "bucket" / ".dataspoc").rglob("*.json"))
    for text in (failed.stderr, plan.stdout, plan.stderr, logs):
        assert secret not in text and "s3cr3t%2FTok%2Ben%3D%3D" not in text and "s3cr3t" not in text


def test_a_records_path_that_is_not_there_is_named(pipe, tmp_path, api):
    api.routes["/list"] = lambda r: (200, {"Retry-After": "soon"}, {"data": {"items": [{"id": 1}]}})
    pipeline(tmp_path, {"url": f"{api.url}/list", "records": "data.itmes"})
    result = pipe("run", "orders")
    assert result.code == ExitCode.DATA and "has no 'data.itmes'" in result.stderr


def test_a_nonsense_retry_after_falls_back_to_the_backoff(pipe, tmp_path, api):
    calls = []

    def busy_then_ok(request):
        calls.append(1)
        return (503, {"Retry-After": "soon"}, b"busy") if len(calls) == 1 else (200, {}, [{"id": 1}])

    api.routes["/busy"] = busy_then_ok
    pipeline(tmp_path, {"url": f"{api.url}/busy", "backoff": 0})
    assert run(pipe)["rows_written"] == 1 and len(calls) == 2
