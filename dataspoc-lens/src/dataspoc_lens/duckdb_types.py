"""Apache Arrow type strings, as the manifest records them, to DuckDB types."""

from __future__ import annotations

import re

SIMPLE_TYPES = {
    "null": "INTEGER",
    "bool": "BOOLEAN",
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "uint8": "UTINYINT",
    "uint16": "USMALLINT",
    "uint32": "UINTEGER",
    "uint64": "UBIGINT",
    "halffloat": "FLOAT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "large_string": "VARCHAR",
    "string_view": "VARCHAR",
    "utf8": "VARCHAR",
    "large_utf8": "VARCHAR",
    "binary": "BLOB",
    "large_binary": "BLOB",
    "binary_view": "BLOB",
    "date32[day]": "DATE",
    "date64[ms]": "DATE",
    "time32[s]": "TIME",
    "time32[ms]": "TIME",
    "time64[us]": "TIME",
    "time64[ns]": "TIME",
}
TIMESTAMP = re.compile(r"^timestamp\[(s|ms|us|ns)(?:, tz=.+)?\]$")
DECIMAL = re.compile(r"^decimal(?:32|64|128|256)?\((\d+), ?(\d+)\)$")
DURATION = re.compile(r"^duration\[(s|ms|us|ns)\]$")


def duckdb_type(arrow_type: str) -> str:
    """The DuckDB type of an Arrow type string; VARCHAR for the few nested types we don't map."""
    arrow_type = arrow_type.strip()
    if arrow_type in SIMPLE_TYPES:
        return SIMPLE_TYPES[arrow_type]
    if m := TIMESTAMP.match(arrow_type):
        tz = ", tz=" in arrow_type
        if tz:
            return "TIMESTAMPTZ"
        return {"s": "TIMESTAMP_S", "ms": "TIMESTAMP_MS", "us": "TIMESTAMP", "ns": "TIMESTAMP_NS"}[m.group(1)]
    if m := DECIMAL.match(arrow_type):
        precision, scale = int(m.group(1)), int(m.group(2))
        return f"DECIMAL({precision}, {scale})" if precision <= 38 else "DOUBLE"
    if DURATION.match(arrow_type):
        return "INTERVAL"
    return "VARCHAR"
