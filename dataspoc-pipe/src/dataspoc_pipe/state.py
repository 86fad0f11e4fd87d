"""A pipeline's state bookmark: what has been ingested already."""

from __future__ import annotations

from datetime import datetime, timezone

from dataspoc_pipe.bucket import Bucket
from dataspoc_pipe.contract import CONTRACT_VERSION, state_path
from dataspoc_pipe.contract.models import Bookmarks, FileBookmark, State, dump, parse


def load(bucket: Bucket, pipeline: str) -> State | None:
    path = state_path(pipeline)
    document = bucket.read_json(path)
    return None if document is None else parse("state", document, bucket.display(path))


def with_files(previous: State | None, pipeline: str, run_id: str, files: dict[str, FileBookmark]) -> State:
    bookmarks = previous.bookmarks.model_copy(deep=True) if previous else Bookmarks()
    bookmarks.files = {**(bookmarks.files or {}), **files}
    return State(
        contract_version=CONTRACT_VERSION,
        pipeline=pipeline,
        updated_at=datetime.now(timezone.utc),
        last_run_id=run_id,
        bookmarks=bookmarks,
    )


def save(bucket: Bucket, state: State) -> None:
    bucket.write_json(state_path(state.pipeline), dump(state))
