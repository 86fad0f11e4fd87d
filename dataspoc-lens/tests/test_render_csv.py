"""CSV output is written a batch at a time by Arrow, yet reads exactly like Python's csv writer."""

import csv
import io

import duckdb
import pytest

from dataspoc_lens import render
from dataspoc_lens.errors import ExitCode

TYPES_SQL = """
SELECT range AS i, range::DOUBLE / 3 AS f, (range * 0.5)::FLOAT AS f32,
  (CASE range % 4 WHEN 0 THEN 'nan' WHEN 1 THEN 'inf' WHEN 2 THEN '-inf' ELSE '2' END)::DOUBLE AS special,
  CASE range % 6 WHEN 0 THEN 'plain' WHEN 1 THEN 'x,y' WHEN 2 THEN 'q"q' WHEN 3 THEN E'l\\nm' WHEN 4 THEN '' END AS s,
  CASE WHEN range % 4 = 0 THEN NULL ELSE 'ü €' END AS u, NULL AS n, [range, 2] AS l, {'a': range, 'b': 'x,y'} AS st,
  'ab'::BLOB AS bl, TIMESTAMP '2026-01-01 01:02:03' + to_microseconds(range) AS ts,
  TIMESTAMPTZ '2026-01-01 01:02:03+00' AS tz, INTERVAL 1 DAY AS iv, TIME '01:02:03' AS tm, DATE '2026-11-22' AS d,
  12.5::DECIMAL(10, 2) AS dec, 5::HUGEINT AS h, 200::UTINYINT AS ut, CASE WHEN range % 3 = 0 THEN NULL ELSE range % 2 = 0 END AS b,
  MAP {'k': 1} AS m, 1e16::DOUBLE AS big, 0.0::DOUBLE AS z, -0.0::DOUBLE AS nz, 1e-7::DOUBLE AS tiny
FROM range(25000)
"""


def reference_csv(sql: str) -> str:
    """What the cell-by-cell writer printed: Python's csv module over render.cell."""
    table = duckdb.connect().sql(sql).to_arrow_table()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.column_names)
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    writer.writerows([render.cell(v) for v in row] for row in zip(*columns))
    return out.getvalue()


def test_csv_reads_back_like_the_python_writer(lens, tmp_path):
    (tmp_path / "empty").mkdir()
    result = lens("query", TYPES_SQL, "--bucket", str(tmp_path / "empty"), "--format", "csv")
    assert result.code == ExitCode.OK, result.stderr
    expected = reference_csv(TYPES_SQL)
    assert list(csv.reader(io.StringIO(result.stdout))) == list(csv.reader(io.StringIO(expected)))
    assert result.stdout == expected  # byte for byte, quoting included


EDGE_CASES = [
    "SELECT CASE WHEN range % 2 = 0 THEN NULL ELSE range END AS x FROM range(5)",  # one column with empties
    "SELECT CASE WHEN range % 2 = 0 THEN '' ELSE 'a' END AS x FROM range(5)",
    "SELECT 'he said \"hi\", twice' AS s, 1 AS n",
    "SELECT 1 AS a WHERE false",
]


@pytest.mark.parametrize("sql", EDGE_CASES)
def test_csv_edge_cases_match_the_python_writer(lens, tmp_path, sql):
    (tmp_path / "empty").mkdir(exist_ok=True)
    result = lens("query", sql, "--bucket", str(tmp_path / "empty"), "--format", "csv")
    assert result.code == ExitCode.OK, result.stderr
    assert result.stdout == reference_csv(sql)


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
@pytest.mark.parametrize("sql", [TYPES_SQL, *EDGE_CASES, "SELECT E'a\\tb' AS t, 'q\"' AS q FROM range(3)"])
def test_small_batches_and_arrow_batches_write_the_same_bytes(monkeypatch, sql, fmt):
    """A batch under render.SMALL_BATCH rows is written by Python's csv module, a larger one by
    Arrow: every batch size gives the same bytes."""

    def written(small_batch: int) -> str:
        monkeypatch.setattr(render, "SMALL_BATCH", small_batch)
        relation = duckdb.connect().sql(sql)
        out = io.StringIO()
        render.batches(relation.columns, relation.to_arrow_reader(10_000), fmt, out)
        return out.getvalue()

    assert written(0) == written(10**9)
