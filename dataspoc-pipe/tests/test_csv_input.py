"""CSV as users' files really are: options, encodings, and malformed input.

Every malformed file stops the run with one line naming the file, the line and the column,
and leaves the bucket as it was: no data file, no state, no manifest entry.
"""

from __future__ import annotations

import codecs
import gzip
import json
from decimal import Decimal

import pytest

from conftest import bucket_untouched, one_csv_pipeline, read_bucket_json, refused, table_rows
from dataspoc_pipe.errors import ExitCode


def rows_of(pipe, tmp_path):
    result = pipe("run", "orders")
    assert result.code == ExitCode.OK, result.stderr
    return table_rows(str(tmp_path / "bucket"), "raw/shop/orders")


def test_unterminated_quote_is_an_error_not_one_huge_field(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": 'id,name\n1,"ann\n2,bob\n3,cid\n'})
    refused(pipe, tmp_path, "a.csv", "quoted field is never closed", "line 2")


def test_ragged_row_names_its_line(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": "id,name\n1,ann\n2,bob,extra\n3,cid\n"})
    refused(pipe, tmp_path, "a.csv line 3", "3 fields where the header has 2")


def test_invalid_utf8_is_an_error_unless_an_encoding_is_set(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": b"id,name\n1,ann\n2,caf\xe9\n"})
    refused(pipe, tmp_path, "a.csv", "'name'", "not valid utf-8", "line 3", "source.encoding")

    one_csv_pipeline(tmp_path, {}, encoding="latin-1")
    assert [r["name"] for r in rows_of(pipe, tmp_path)] == ["ann", "café"]


def test_utf16_with_a_bom_is_read(pipe, tmp_path):
    text = "id,name\n1,ann\n2,zoë\n"
    one_csv_pipeline(tmp_path, {"a.csv": codecs.BOM_UTF16_LE + text.encode("utf-16-le")})
    assert rows_of(pipe, tmp_path) == [{"id": 1, "name": "ann"}, {"id": 2, "name": "zoë"}]


def test_rows_appended_to_a_file_with_a_bom_keep_the_column_name(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": codecs.BOM_UTF8 + b"id,name\n1,ann\n"})
    assert rows_of(pipe, tmp_path) == [{"id": 1, "name": "ann"}]
    with open(tmp_path / "data" / "a.csv", "ab") as handle:
        handle.write(b"2,bob\n")
    assert rows_of(pipe, tmp_path) == [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}]
    manifest = read_bucket_json(str(tmp_path / "bucket"), ".dataspoc/manifest.json")
    assert [c["name"] for c in manifest["tables"][0]["columns"]] == ["id", "name", "dt"]


def test_a_value_that_does_not_fit_the_inferred_type_is_named_never_nulled(pipe, tmp_path):
    body = "".join(f"{i},x\n" for i in range(1_000_000))  # 7.9 MB, past the first block
    one_csv_pipeline(tmp_path, {"a.csv": "id,name\n" + body + "n/a,y\n"})
    refused(pipe, tmp_path, "a.csv line 1000002", "column 'id'", "'n/a'", "source.nulls", "source.columns")

    one_csv_pipeline(tmp_path, {}, nulls=["", "n/a"])
    rows = rows_of(pipe, tmp_path)
    assert len(rows) == 1_000_001 and rows[-1] == {"id": None, "name": "y"}


def test_only_empty_fields_are_null_by_default(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": 'id,note\n1,NA\n2,null\n3,\n4,""\n'})
    assert [r["note"] for r in rows_of(pipe, tmp_path)] == ["NA", "null", None, ""]


def test_declared_types_override_inference(pipe, tmp_path):
    one_csv_pipeline(
        tmp_path,
        {"a.csv": "id,amount,at,code\n1,12.50,2026-11-22T03:00:00Z,007\n2,0.10,2026-11-22T04:30:00+01:00,010\n"},
        columns={"amount": "decimal128(12, 2)", "at": "timestamp[us, tz=UTC]", "code": "string"},
    )
    rows = rows_of(pipe, tmp_path)
    assert [r["amount"] for r in rows] == [Decimal("12.50"), Decimal("0.10")]
    assert [r["code"] for r in rows] == ["007", "010"]
    assert rows[1]["at"].isoformat() == "2026-11-22T03:30:00+00:00"
    columns = read_bucket_json(str(tmp_path / "bucket"), ".dataspoc/manifest.json")["tables"][0]["columns"]
    assert columns[1]["type"] == "decimal128(12, 2)" and columns[2]["type"] == "timestamp[us, tz=UTC]"


def test_an_unknown_declared_type_or_column_is_a_usage_error(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": "id\n1\n"}, columns={"id": "integer"})
    result = pipe("run", "orders")
    assert result.code == ExitCode.USAGE and "unknown column type 'integer'" in result.stderr
    one_csv_pipeline(tmp_path, {}, columns={"ident": "int64"})
    result = pipe("run", "orders")
    assert result.code == ExitCode.USAGE and "ident" in result.stderr and bucket_untouched(tmp_path)


def test_delimiter_quote_header_and_names(pipe, tmp_path):
    one_csv_pipeline(
        tmp_path, {"a.csv": "1;'ann; jr'\n2;bob\n"}, delimiter=";", quote="'", header=False, column_names=["id", "name"]
    )
    assert rows_of(pipe, tmp_path) == [{"id": 1, "name": "ann; jr"}, {"id": 2, "name": "bob"}]


@pytest.mark.parametrize(
    ("header", "message"), [("id,id\n", "same name"), ("id,ID\n", "same name"), ("id,\n", "no name")]
)
def test_column_names_every_reader_can_use(pipe, tmp_path, header, message):
    one_csv_pipeline(tmp_path, {"a.csv": header + "1,2\n"})
    refused(pipe, tmp_path, "a.csv", message)


def test_quoted_newlines_and_huge_fields_span_blocks(pipe, tmp_path):
    rows = "".join(f'{i},"line one\nline two of {i}"\n' for i in range(300_000))  # ~10 MB
    huge = "x" * (10 << 20)
    one_csv_pipeline(tmp_path, {"a.csv": "id,note\n" + rows + f'300000,"{huge}"\n'})
    got = rows_of(pipe, tmp_path)
    assert len(got) == 300_001
    assert got[123_456]["note"] == "line one\nline two of 123456"
    assert len(got[-1]["note"]) == len(huge)


def test_compressed_files_are_read(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv.gz": gzip.compress(b"id,name\n1,ann\n2,bob\n")})
    assert rows_of(pipe, tmp_path) == [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}]


def test_a_manifest_it_cannot_read_stops_the_run_before_any_write(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": "id\n1\n"})
    manifest = tmp_path / "bucket" / ".dataspoc" / "manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"tables": {"orders": {"path": "raw/orders"}}}))  # a 0.2.0 catalog
    result = pipe("run", "orders")
    assert result.code == ExitCode.DATA and "manifest.json" in result.stderr
    assert bucket_untouched(tmp_path)
    assert pipe("run", "orders").code == ExitCode.DATA  # still refused, nothing was consumed


def test_a_semicolon_file_read_with_commas_is_named(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": "id;name\n1;ann\n"})
    refused(pipe, tmp_path, "a.csv", "looks ';'-separated", "source.delimiter")


def test_a_quote_inside_an_unquoted_field_is_text(pipe, tmp_path):
    one_csv_pipeline(tmp_path, {"a.csv": 'id,item\n1,12" pipe\n2,plain\n'})
    assert [r["item"] for r in rows_of(pipe, tmp_path)] == ['12" pipe', "plain"]
