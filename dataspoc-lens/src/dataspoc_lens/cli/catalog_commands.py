"""`catalog` and `schema`: what the bucket holds."""

from __future__ import annotations

from typing import Annotated

import typer

from dataspoc_lens.cli import handlers
from dataspoc_lens.cli.app import BucketOption, DebugOption, command, resolve
from dataspoc_lens.console import out


@command("dataspoc-lens catalog --bucket s3://lake --json", "dataspoc-lens catalog --layer curated")
def catalog(
    bucket: BucketOption = "./bucket",
    layer: Annotated[str | None, typer.Option("--layer", help="Only this layer: raw, curated, gold or ml.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON on stdout.")] = False,
    debug: DebugOption = False,
) -> None:
    """List the bucket's tables: name, rows, files, partitions, columns, quality, last run, writer."""
    handlers.catalog(bucket, layer, as_json)


@command("dataspoc-lens schema raw.shop.orders", "dataspoc-lens schema orders --json")
def schema(
    table: Annotated[str, typer.Argument(help="The table: layer.namespace.name, or a unique shorter name.")],
    bucket: BucketOption = "./bucket",
    as_json: Annotated[bool, typer.Option("--json", help="Print the table's description as JSON on stdout.")] = False,
    debug: DebugOption = False,
) -> None:
    """Describe one table: columns (types, nullability, partition columns), files, rows,
    schema history, lineage, and its quality score and last checks when Pipe checked it."""
    import json

    from dataspoc_lens import catalog as catalogs
    from dataspoc_lens import render
    from dataspoc_lens.bucket import Bucket

    described = catalogs.load(Bucket(resolve(bucket))).schema(table)
    if as_json:
        out(json.dumps(described, indent=2))
    else:
        render.schema(described)
