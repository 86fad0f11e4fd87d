"""Column types a config may declare, as Arrow type strings: `int64`, `decimal128(12, 2)`, ..."""

from __future__ import annotations

import re

from dataspoc_pipe.errors import ConfigError

SIMPLE = {
    "bool": "bool_",
    "boolean": "bool_",
    "int8": "int8",
    "int16": "int16",
    "int32": "int32",
    "int64": "int64",
    "uint8": "uint8",
    "uint16": "uint16",
    "uint32": "uint32",
    "uint64": "uint64",
    "float": "float32",
    "float32": "float32",
    "double": "float64",
    "float64": "float64",
    "string": "string",
    "utf8": "string",
    "large_string": "large_string",
    "binary": "binary",
    "date": "date32",
    "date32": "date32",
    "date32[day]": "date32",
}
TIMESTAMP = re.compile(r"timestamp\[(s|ms|us|ns)(?:,\s*tz=([A-Za-z0-9_/+:-]+))?\]", re.IGNORECASE)
DECIMAL = re.compile(r"decimal(?:128)?\((\d+),\s*(\d+)\)")
KNOWN = "bool, int8..int64, uint8..uint64, float32, double, string, binary, date32, timestamp[us] or timestamp[us, tz=UTC], decimal128(P, S)"


def parse(text: str, where: str):
    """The Arrow type a type string names, or ConfigError naming `where`."""
    import pyarrow as pa

    value = text.strip().lower()
    if value in SIMPLE:
        return getattr(pa, SIMPLE[value])()
    if match := TIMESTAMP.fullmatch(text.strip()):
        unit, zone = match.group(1).lower(), match.group(2)
        return pa.timestamp(unit, tz="UTC" if zone and zone.upper() == "UTC" else zone)
    if match := DECIMAL.fullmatch(value):
        precision, scale = int(match.group(1)), int(match.group(2))
        if not 1 <= precision <= 38 or scale > precision:
            raise ConfigError(f"{where}: {text} needs 1 <= precision <= 38 and scale <= precision")
        return pa.decimal128(precision, scale)
    raise ConfigError(f"{where}: unknown column type '{text}'; use one of: {KNOWN}")
