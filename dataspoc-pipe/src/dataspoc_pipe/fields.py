"""Building blocks of the project file's models, shared by config.py, curate.py and checks.py."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from dataspoc_pipe.contract.models import NAME_PATTERN

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Columns = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartitionBy(Strict):
    column: Annotated[str, Field(min_length=1, description="A date or timestamp column: its UTC date is dt.")]


class MergeSettings(Strict):
    key: Columns | None = None  # default: the source's primary key
    order_by: str | None = None  # the greatest value wins; default: the latest arrival
