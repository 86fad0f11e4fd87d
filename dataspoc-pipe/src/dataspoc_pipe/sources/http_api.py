"""HTTP JSON APIs: pages of records from one endpoint, incremental by a cursor field.

Rules a user can rely on (docs/pipe.md repeats them):
- `records` is the dotted path to the array of records in each response (`data.items`); empty
  means the body is the array itself. Records follow json_records.py's typing rules;
- pagination is `page` (a page number), `offset` (offset and limit), `cursor` (a token found in
  the body, sent back as a parameter) or `link` (the next URL, from the `Link` header or a body
  path); paging stops at an empty or short page, or when no next page is given;
- with `cursor`, the first request sends the bookmark as a parameter and the bookmark moves to
  the greatest value of the field among the records read;
- 429 and 5xx answers and dropped connections are retried with exponential backoff, honouring
  `Retry-After`; 401 and 403 are credential errors (exit 2); anything else that is not JSON,
  such as an HTML error page, stops the run naming the URL and the status.
Header and parameter values may be `${VAR}`: they are read at run time and never shown.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dataspoc_pipe import __version__, diagnostics
from dataspoc_pipe.contract.models import Cursor, StreamBookmark
from dataspoc_pipe.errors import AccessDenied, SourceError, SourceUnreachable, UsageError
from dataspoc_pipe.sources import types
from dataspoc_pipe.sources.base import Context, Kind, SourceConfig, Stream
from dataspoc_pipe.sources.json_records import JsonRecords

MAX_WAIT = 60.0  # seconds: the longest Retry-After honoured


class Pagination(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["none", "page", "offset", "cursor", "link"] = "none"
    param: Annotated[
        str | None, Field(description="page: page number; offset: offset; cursor: the token's parameter.")
    ] = None
    size_param: Annotated[str | None, Field(description="The page size parameter (per_page, limit).")] = None
    size: Annotated[int, Field(ge=1)] | None = None
    start: int = 1  # the first page number
    path: Annotated[
        str | None, Field(description="cursor: the token's path in the body; link: the next URL's path.")
    ] = None
    max_pages: Annotated[int, Field(ge=1)] | None = None


class CursorField(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: Annotated[str, Field(min_length=1)]
    param: Annotated[str, Field(min_length=1)]


class HttpConfig(SourceConfig):
    kind: Literal["http"] = "http"
    url: Annotated[str, Field(pattern=r"^https?://", description="The endpoint, http:// or https://.")]
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    records: Annotated[str, Field(description="Dotted path to the records array; empty: the body is the array.")] = ""
    pagination: Pagination = Field(default_factory=lambda: Pagination())
    cursor: CursorField | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    nested: Literal["struct", "json"] = "struct"
    timeout: Annotated[float, Field(gt=0)] = 30.0
    retries: Annotated[int, Field(ge=0)] = 5
    backoff: Annotated[float, Field(ge=0)] = 1.0  # seconds before the first retry; doubles each time


def _at(document: Any, path: str) -> Any:
    for part in [p for p in path.split(".") if p]:
        if isinstance(document, dict):
            document = document.get(part)
        elif isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        else:
            return None
    return document


def _has(document: Any, path: str) -> bool:
    """Whether the dotted path exists in the document (its value may be null)."""
    parts = [p for p in path.split(".") if p]
    for part in parts[:-1]:
        document = document.get(part) if isinstance(document, dict) else None
    return isinstance(document, dict) and bool(parts) and parts[-1] in document


def _next_link(header: str | None) -> str | None:
    """The rel="next" URL of a Link header."""
    for part in (header or "").split(","):
        if 'rel="next"' in part or "rel=next" in part:
            return part.split(";")[0].strip().strip("<>")
    return None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), MAX_WAIT)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # not a number of seconds nor an HTTP date: the backoff decides
    if when.tzinfo is None:
        return None
    return min(max(when.timestamp() - time.time(), 0.0), MAX_WAIT)


class HttpStream(Stream):
    evolving_columns = True

    def __init__(self, name: str, config: HttpConfig, context: Context):
        self.name = name
        self.config = config
        self.context = context
        self.declared = {c: types.parse(t, f"source.columns.{c}") for c, t in config.columns.items()}
        self.incremental = config.cursor is not None
        previous = context.bookmark(name)
        self.start = previous.cursor.value if previous and previous.cursor else None
        if context.window is not None:
            if config.cursor is None:
                raise UsageError(f"{config.url}: no source.cursor to backfill by")
            self.start = context.window[0]
        self.greatest: Any = self.start
        self.page = 0
        self.url = config.url

    def origin(self) -> str:
        return f"{self.url} page {self.page}" if self.page else self.config.url

    def plan(self) -> list[str]:
        since = (
            f" with {self.config.cursor.param}={self.start}" if self.config.cursor and self.start is not None else ""
        )
        return [f"GET {self.config.url}{since} ({self.config.pagination.type} pagination)"]

    def batches(self) -> Iterator:
        records = JsonRecords(self.declared, self.config.nested)
        for page, items in self._pages():
            if not items:
                continue
            if not all(isinstance(item, dict) for item in items):
                index = next(i for i, item in enumerate(items) if not isinstance(item, dict))
                raise SourceError(
                    f"{self._where(page)(index)}: a {type(items[index]).__name__} where each record must be a JSON object"
                )
            if self.config.cursor and self.context.window is None and self.start is not None:
                # APIs' "since" parameters mostly include the bookmark itself: its records were
                # published by the run that set it, so they are not read again
                field = self.config.cursor.field
                items = [item for item in items if item.get(field) is None or item.get(field) > self.start]
                if not items:
                    continue
            if self.config.cursor and self.context.window is not None:
                high, field = self.context.window[1], self.config.cursor.field
                items = [item for item in items if item.get(field) is None or item.get(field) <= high]
                if not items:
                    continue
            if self.config.cursor:
                values = [item.get(self.config.cursor.field) for item in items]
                values = [v for v in values if v is not None]
                if values:
                    top = max(values)
                    self.greatest = top if self.greatest is None or top > self.greatest else self.greatest
            chunk = "".join(json.dumps(item, ensure_ascii=False, allow_nan=True) + "\n" for item in items).encode()
            yield from records.table(chunk, self._where(page)).to_batches()

    def bookmark(self) -> StreamBookmark:
        if self.context.window is not None:  # a backfill never moves the live bookmark
            return self.context.bookmarks.get(self.name) or StreamBookmark()
        if self.config.cursor is None or self.greatest is None:
            return StreamBookmark()
        return StreamBookmark(cursor=Cursor(column=self.config.cursor.field, value=self.greatest))

    def _where(self, page: int):
        def where(index: int | None) -> str:
            return f"{self.url} page {page}" if index is None else f"{self.url} page {page}, record {index + 1}"

        return where

    def _pages(self) -> Iterator[tuple[int, list]]:
        pagination = self.config.pagination
        params: dict[str, Any] = dict(self.config.params)
        if self.config.cursor and self.start is not None:
            params[self.config.cursor.param] = self.start
        if pagination.size_param and pagination.size:
            params[pagination.size_param] = pagination.size
        url: str | None = self.config.url
        number, offset, seen = pagination.start, 0, set()
        self.page = 0
        while url is not None:
            self.page += 1
            if pagination.max_pages and self.page > pagination.max_pages:
                return
            if pagination.type == "page":
                params[pagination.param or "page"] = number
            elif pagination.type == "offset":
                params[pagination.param or "offset"] = offset
            full = url if (pagination.type == "link" and self.page > 1) else _with_params(url, params)
            if full in seen:
                raise SourceError(
                    f"{self.config.url}: page {self.page} asks for a page already read; check source.pagination"
                )
            seen.add(full)
            self.url = full
            body, headers = self._get(full)
            items = _at(body, self.config.records) if self.config.records else body
            if items is None and self.page == 1 and not _has(body, self.config.records):
                raise SourceError(
                    f"{self.config.url} page 1 has no '{self.config.records}'; check source.records "
                    f"(the body's keys: {', '.join(list(body)[:8]) if isinstance(body, dict) else type(body).__name__})"
                )
            if items is None:
                items = []
            if not isinstance(items, list):
                raise SourceError(
                    f"{self.config.url} page {self.page}: '{self.config.records or 'the body'}' is a "
                    f"{type(items).__name__}, not an array of records; check source.records"
                )
            yield self.page, items
            short = pagination.size is not None and len(items) < pagination.size
            if pagination.type == "none":
                url = None
            elif pagination.type in ("page", "offset"):
                number += 1
                offset += len(items)
                url = None if (not items or short) else url
            elif pagination.type == "cursor":
                token = _at(body, pagination.path or "next_cursor")
                if token in (None, "") or not items:
                    url = None
                else:
                    params[pagination.param or "cursor"] = token
            else:  # link
                nxt = _at(body, pagination.path) if pagination.path else _next_link(headers.get("Link"))
                url = urllib.parse.urljoin(full, nxt) if nxt else None

    def _get(self, url: str) -> tuple[Any, dict[str, str]]:
        shown = diagnostics.scrub(url)
        headers = {"Accept": "application/json", "User-Agent": f"dataspoc-pipe/{__version__}", **self.config.headers}
        wait = self.config.backoff
        for attempt in range(self.config.retries + 1):
            last = attempt == self.config.retries
            request = urllib.request.Request(url, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.config.timeout) as response:
                    raw = response.read()
                    answer = dict(response.headers.items())
                    status = response.status
            except urllib.error.HTTPError as exc:
                status, raw, answer = exc.code, exc.read(), dict(exc.headers.items())
                if status in (401, 403):
                    raise AccessDenied(
                        f"{shown} answered {status} ({exc.reason}); check the credentials in source.headers or source.params"
                    ) from None
                if (status == 429 or status >= 500) and not last:
                    time.sleep(_retry_after(answer.get("Retry-After")) or wait)
                    wait *= 2
                    continue
                if status == 429 or status >= 500:
                    raise SourceUnreachable(
                        f"{shown} answered {status} ({exc.reason}) {self.config.retries + 1} times; try again later"
                    ) from None
                raise SourceError(f"{shown} answered {status} ({exc.reason}): {_snippet(raw)}") from None
            except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError, OSError) as exc:
                if not last:
                    time.sleep(wait)
                    wait *= 2
                    continue
                reason = getattr(exc, "reason", exc)
                raise SourceUnreachable(f"cannot reach {shown}: {reason}; try again later") from None
            try:
                return json.loads(raw), answer
            except ValueError:
                kind = answer.get("Content-Type", "unknown type")
                raise SourceError(
                    f"{shown} answered {status} with {kind}, not JSON: {_snippet(raw)}; check source.url"
                ) from None
        raise AssertionError("unreachable")  # the loop returns or raises


def _with_params(url: str, params: dict[str, Any]) -> str:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query.update({k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()})
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _snippet(raw: bytes) -> str:
    """The start of a body, for an error message. Secrets are hidden before it is cut: cut
    first, a secret straddling the cut would show its first characters, which `scrub` cannot
    recognise."""
    text = " ".join(diagnostics.scrub(raw.decode("utf-8", "replace")).split())
    return repr(text[:200] + ("..." if len(text) > 200 else ""))


def open_streams(config: HttpConfig, context: Context) -> list[Stream]:
    return [HttpStream(context.default_table, config, context)]


KIND = Kind(
    name="http",
    config=HttpConfig,
    open=open_streams,
    summary="HTTP JSON API: one endpoint, a records path, page/offset/cursor/link pagination, incremental by a field",
)
