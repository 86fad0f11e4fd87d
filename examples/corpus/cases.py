"""The bad-input corpus: what a user can get wrong, or a source can send, and what each tool
must do about it. Each case names the input (written into the test's folder), the command, the
documented exit code and words of the one-line message, or — for inputs ingested by a
documented rule — exit 0 and what the run reports. examples/tests/test_corpus.py runs them all
against a bucket holding a good table, and checks the bucket is byte-for-byte unchanged after
each rejection (a failed run log is the one object a rejected Pipe run adds: it records the
failure for `dataspoc-pipe logs`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

SCHEMA = {"type": "SCHEMA", "stream": "orders", "schema": {"properties": {"id": {"type": "integer"}}}, "key_properties": ["id"]}


def singer(*messages: object, tail: str = "") -> bytes:
    lines = [m if isinstance(m, str) else json.dumps(m) for m in messages]
    return ("\n".join(lines) + "\n" + tail).encode()


@dataclass
class Case:
    id: str
    argv: list[str]  # the command; {bucket} is the bucket URL
    exit: int
    says: list[str]  # words of stderr (one line for errors)
    files: dict[str, bytes] = field(default_factory=dict)  # written under the test's folder
    pipe: dict | None = None  # a pipeline `corpus` added to the project file before the command
    manifest: object | None = None  # replaces .dataspoc/manifest.json (a str: written as is)
    env: dict[str, str] = field(default_factory=dict)
    ingested: bool = False  # exit 0: the input is ingested by a documented rule
    trained: bool = False  # a model `m` trained on raw.shop.good first
    tamper: bool = False  # one byte appended to that model's model.pkl


def csv_case(id: str, content: bytes, exit: int, says: list[str], ingested: bool = False, **source) -> Case:
    return Case(
        id,
        ["dataspoc-pipe", "run", "corpus"],
        exit,
        says,
        files={"in/data.csv": content},
        pipe={"source": {"kind": "csv", "path": "in/data.csv", **source}, "target": {"namespace": "corpus"}},
        ingested=ingested,
    )


def jsonl_case(id: str, content: bytes, exit: int, says: list[str], ingested: bool = False) -> Case:
    return Case(
        id,
        ["dataspoc-pipe", "run", "corpus"],
        exit,
        says,
        files={"in/data.jsonl": content},
        pipe={"source": {"kind": "jsonl", "path": "in/data.jsonl"}, "target": {"namespace": "corpus"}},
        ingested=ingested,
    )


def tap_case(id: str, output: bytes, exit: int, says: list[str]) -> Case:
    return Case(
        id,
        ["dataspoc-pipe", "run", "corpus"],
        exit,
        says,
        files={"in/tap.out": output},
        pipe={"source": {"kind": "singer", "tap": "{python} {corpus}/replay_tap.py in/tap.out"}, "target": {"namespace": "corpus"}},
    )


def manifest_case(id: str, manifest: object, says: list[str], exit: int = 1) -> list[Case]:
    """The same damaged manifest met by each of the three tools."""
    return [
        Case(f"{id}-{tool}", argv, exit, says, manifest=manifest)
        for tool, argv in (
            ("pipe", ["dataspoc-pipe", "run", "good"]),
            ("lens", ["dataspoc-lens", "catalog", "--bucket", "{bucket}"]),
            ("ml", ["dataspoc-ml", "train", "m", "--table", "raw.shop.good", "--target", "id", "--bucket", "{bucket}"]),
        )
    ]


def _good_entry_with(**changes) -> dict:
    return {"__good_entry__": changes}  # the runner swaps in the real good table's entry, changed


CASES: list[Case] = [
    # CSV ---------------------------------------------------------------------------------------
    csv_case("csv-ragged-row", b"id,name\n1,a\n2,b,extra\n", 1, ["line 3", "3 fields"]),
    csv_case("csv-unbalanced-quote", b'id,name\n1,"open\n2,b\n', 1, ["quote"]),
    csv_case("csv-invalid-utf8", b"id,name\n1,caf\xe9\n", 1, ["not valid utf-8", "source.encoding"]),
    csv_case("csv-utf16", "id,name\n1,a\n".encode("utf-16"), 0, [], ingested=True),
    csv_case("csv-nul-byte", b"id,name\n1,a\x00b\n", 0, ["1 rows"], ingested=True),  # a NUL inside a value is data
    csv_case("csv-10mb-field", b"id,text\n1," + b"x" * (10 * 1024 * 1024) + b"\n", 0, [], ingested=True),
    csv_case("csv-empty-file", b"", 0, ["no new data"], ingested=True),
    csv_case("csv-header-only", b"id,name\n", 0, ["0 rows"], ingested=True),
    csv_case("csv-duplicate-columns", b"id,id\n1,2\n", 1, ["id"]),
    csv_case("csv-blank-column-name", b"id,\n1,2\n", 1, ["column"]),
    csv_case(
        "csv-type-change-after-many-rows",
        # past the first blocks the types are inferred from (2 MB)
        b"id,amount\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(400_000)) + b"400000,not-a-number\n",
        1,
        ["not-a-number"],
    ),
    # JSON Lines --------------------------------------------------------------------------------
    jsonl_case("jsonl-not-an-object", b'{"id": 1}\n[1, 2]\n', 1, ["line 2"]),
    jsonl_case("jsonl-nan", b'{"id": 1, "x": NaN}\n', 1, ["NaN"]),
    jsonl_case("jsonl-beyond-int64", b'{"id": 123456789012345678901234567890}\n', 1, ["beyond int64", "source.columns"]),
    jsonl_case("jsonl-deep-nesting", ("{" + '"a": {' * 200 + "}" * 200 + "}\n").encode(), 0, [], ingested=True),
    jsonl_case("jsonl-broken-line", b'{"id": 1}\n{"id": \n', 1, ["line 2"]),
    # Singer ------------------------------------------------------------------------------------
    tap_case("singer-record-before-schema", singer({"type": "RECORD", "stream": "orders", "record": {"id": 1}}, SCHEMA), 1, ["RECORD", "SCHEMA"]),
    tap_case("singer-unknown-stream", singer(SCHEMA, {"type": "RECORD", "stream": "ghosts", "record": {"id": 1}}), 1, ["ghosts"]),
    tap_case("singer-truncated-output", singer(SCHEMA, {"type": "RECORD", "stream": "orders", "record": {"id": 1}}, tail='{"type": "REC'), 1, ["line 3"]),
    tap_case("singer-dies-midway", singer(SCHEMA, {"type": "RECORD", "stream": "orders", "record": {"id": 1}}, "#exit 3"), 1, ["exit"]),
    # configuration -----------------------------------------------------------------------------
    Case("config-unknown-key", ["dataspoc-pipe", "run", "corpus"], 2, ["colour"],
         pipe={"source": {"kind": "csv", "path": "in/x.csv"}, "target": {"namespace": "corpus"}, "colour": "blue"}),
    Case("config-missing-variable", ["dataspoc-pipe", "run", "corpus"], 2, ["CORPUS_TOKEN"],
         pipe={"source": {"kind": "http", "url": "http://127.0.0.1:9/x", "headers": {"Authorization": "${CORPUS_TOKEN}"}},
               "target": {"namespace": "corpus"}}),
    Case("config-malformed-bucket-url", ["dataspoc-lens", "catalog", "--bucket", "s4://nowhere"], 2, ["s4://"]),
    Case("config-bucket-url-with-credentials", ["dataspoc-ml", "models", "--bucket", "s3://key:secret@lake"], 2, ["credentials"]),
    # manifests ---------------------------------------------------------------------------------
    *manifest_case("manifest-not-json", "{not json", ["manifest.json", "JSON"]),
    *manifest_case("manifest-unknown-major", {"contract_version": "9.0", "updated_at": "2026-11-22T00:00:00Z", "tables": []}, ["9.0"]),
    *manifest_case("manifest-location-escapes", {"__good_entry__": {"location": "../../etc"}}, ["location"]),
    *manifest_case("manifest-absolute-file", {"__good_file__": "/etc/passwd.parquet"}, ["/etc/passwd.parquet"]),
    # names -------------------------------------------------------------------------------------
    Case("name-capitals", ["dataspoc-pipe", "add", "Orders", "--path", "in/x.csv", "--source", "corpus"], 2, ["Orders"]),
    Case("name-unicode", ["dataspoc-pipe", "add", "pedidos_ção", "--path", "in/x.csv", "--source", "corpus"], 2, ["pedidos_ção"]),
    Case("name-slash", ["dataspoc-pipe", "add", "a/b", "--path", "in/x.csv", "--source", "corpus"], 2, ["a/b"]),
    Case("name-dot", ["dataspoc-pipe", "add", "a.b", "--path", "in/x.csv", "--source", "corpus"], 2, ["a.b"]),
    Case("name-reserved-pipeline", ["dataspoc-pipe", "add", "lens", "--path", "in/x.csv", "--source", "corpus"], 2, ["lens"]),
    Case("name-model-dashes", ["dataspoc-ml", "train", "my-model", "--table", "raw.shop.good", "--target", "id", "--bucket", "{bucket}"], 2, ["my-model"]),
    Case("name-model-path", ["dataspoc-ml", "train", "../evil", "--table", "raw.shop.good", "--target", "id", "--bucket", "{bucket}"], 2, ["../evil"]),
    # SQL ---------------------------------------------------------------------------------------
    Case("sql-syntax-error", ["dataspoc-lens", "query", "SELEC 1", "--bucket", "{bucket}"], 2, ["syntax"]),
    Case("sql-unknown-column", ["dataspoc-lens", "query", "SELECT nope FROM raw.shop.good", "--bucket", "{bucket}"], 2, ["nope"]),
    Case("sql-write-attempt", ["dataspoc-lens", "query", "COPY raw.shop.good TO 'out.csv'", "--bucket", "{bucket}"], 2, ["read-only"]),
    Case("sql-model-syntax-error", ["dataspoc-lens", "transform", "run", "--bucket", "{bucket}"], 2, ["bad.sql"],
         files={"transforms/corpus/bad.sql": b"SELEC id FROM raw.shop.good"}),
    # models ------------------------------------------------------------------------------------
    Case("ml-unknown-target", ["dataspoc-ml", "train", "m", "--table", "raw.shop.good", "--target", "nope", "--bucket", "{bucket}"], 2, ["nope"]),
    Case("ml-unknown-table", ["dataspoc-ml", "train", "m", "--table", "raw.shop.nope", "--target", "id", "--bucket", "{bucket}"], 2, ["raw.shop.nope"]),
    Case("ml-unknown-model", ["dataspoc-ml", "predict", "ghost", "--bucket", "{bucket}"], 2, ["ghost"]),
    Case("ml-tampered-model", ["dataspoc-ml", "predict", "m", "--bucket", "{bucket}"], 1, ["sha256"], trained=True, tamper=True),
    Case("ml-input-missing-a-feature", ["dataspoc-ml", "predict", "m", "--table", "raw.shop.other", "--bucket", "{bucket}"], 2,
         ["amount"], trained=True),
]
