"""A pipeline's state: one bookmark per stream, where its next run starts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from dataspoc_pipe.bucket import Bucket
from dataspoc_pipe.contract import CONTRACT_VERSION, state_path
from dataspoc_pipe.contract.models import Bookmarks, State, StreamBookmark, TransformMark, dump, parse


def load(bucket: Bucket, pipeline: str) -> State | None:
    path = state_path(pipeline)
    document = bucket.read_json(path)
    return None if document is None else parse("state", document, bucket.display(path))


def streams(previous: State | None, one_table: str) -> dict[str, StreamBookmark]:
    """Each stream's bookmark. A contract 1.0 state kept one pipeline-wide bookmark: it belongs
    to the pipeline's one table."""
    if previous is None:
        return {}
    marks = previous.bookmarks
    found = dict(marks.streams or {})
    if (marks.files or marks.cursor) and one_table not in found:
        found[one_table] = StreamBookmark(files=marks.files, cursor=marks.cursor)
    return found


def advanced(
    previous: State | None,
    pipeline: str,
    run_id: str,
    bookmarks: dict[str, StreamBookmark],
    singer: dict[str, Any] | None = None,
    transforms: dict[str, TransformMark] | None = None,
) -> State:
    """The state after a run: the streams and curated tables it read move on, the others keep
    their bookmarks."""
    old = previous.bookmarks if previous else None
    kept = dict(old.streams or {}) if old else {}
    kept.update(bookmarks)  # a stream that started from a 1.0 bookmark carries it on (streams())
    marks = dict(old.transforms or {}) if old else {}
    marks.update(transforms or {})
    return State(
        contract_version=CONTRACT_VERSION,
        pipeline=pipeline,
        updated_at=datetime.now(timezone.utc),
        last_run_id=run_id,
        bookmarks=Bookmarks(
            streams=kept,
            singer=singer if singer is not None else (old.singer if old else None),
            transforms=marks or None,
        ),
    )


def save(bucket: Bucket, state: State) -> None:
    bucket.write_json(state_path(state.pipeline), dump(state))


def edit(
    bucket: Bucket, pipeline: str, change: Callable[[dict[str, StreamBookmark]], dict[str, StreamBookmark]]
) -> State:
    """Rewrite a pipeline's stream bookmarks by hand (`state reset|set`), under its run lock's
    protection taken by the caller. The last run id is kept: the state still names the run whose
    data it was last in step with."""
    from dataspoc_pipe.errors import UsageError

    previous = load(bucket, pipeline)
    if previous is None:
        raise UsageError(f"pipeline '{pipeline}' has no state yet; it starts from the beginning on its first run")
    marks = dict(previous.bookmarks.streams or {})
    if previous.bookmarks.files or previous.bookmarks.cursor:
        raise UsageError(
            f"pipeline '{pipeline}' has a contract 1.0 state; run it once to move it to per-stream bookmarks"
        )
    updated = State(
        contract_version=CONTRACT_VERSION,
        pipeline=pipeline,
        updated_at=datetime.now(timezone.utc),
        last_run_id=previous.last_run_id,
        bookmarks=Bookmarks(
            streams=change(marks), singer=previous.bookmarks.singer, transforms=previous.bookmarks.transforms
        ),
    )
    save(bucket, updated)
    return updated
