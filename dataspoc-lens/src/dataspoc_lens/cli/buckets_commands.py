"""`buckets add|list|remove`: named buckets."""

from __future__ import annotations

from typing import Annotated

import typer

from dataspoc_lens.cli.app import (
    DebugOption,
    buckets_command,
)
from dataspoc_lens.console import out, say


@buckets_command("dataspoc-lens buckets add finance s3://acme-finance", name="add")
def buckets_add(
    name: Annotated[str, typer.Argument(help="A short name: lowercase letters, digits, underscores.")],
    uri: Annotated[str, typer.Argument(help="The bucket: a folder, s3://, gs://, az://.")],
    replace: Annotated[bool, typer.Option("--replace", help="Change the URI of a name saved already.")] = False,
    debug: DebugOption = False,
) -> None:
    """Save a bucket under a name."""
    from dataspoc_lens import settings
    from dataspoc_lens.bucket import Bucket
    from dataspoc_lens.errors import UsageError

    settings.check(name, uri)
    Bucket(uri)  # a scheme Lens cannot read is refused now, not at the first query
    saved = settings.load()
    if name in saved and not replace and saved[name] != uri:
        raise UsageError(f"bucket '{name}' is saved already as {saved[name]}; pass --replace to change it")
    saved[name] = uri
    settings.save(saved)
    say(f"saved bucket '{name}' -> {uri}")


@buckets_command("dataspoc-lens buckets list --json", name="list")
def buckets_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print them as JSON on stdout.")] = False,
    debug: DebugOption = False,
) -> None:
    """The saved buckets."""
    import json

    from dataspoc_lens import render, settings

    saved = settings.load()
    if as_json:
        out(json.dumps([{"name": k, "uri": v} for k, v in sorted(saved.items())], indent=2))
    elif not saved:
        say("no saved buckets: add one with `dataspoc-lens buckets add NAME URI`")
    else:
        render.records(["name", "uri"], sorted(saved.items()), "table")


@buckets_command("dataspoc-lens buckets remove finance", name="remove")
def buckets_remove(
    name: Annotated[str, typer.Argument(help="The saved name.")],
    debug: DebugOption = False,
) -> None:
    """Forget a saved bucket (its data is untouched)."""
    from dataspoc_lens import settings
    from dataspoc_lens.errors import UsageError

    saved = settings.load()
    if name not in saved:
        raise UsageError(f"no saved bucket '{name}'; saved: {', '.join(sorted(saved)) or 'none'}")
    del saved[name]
    settings.save(saved)
    say(f"removed bucket '{name}'")
