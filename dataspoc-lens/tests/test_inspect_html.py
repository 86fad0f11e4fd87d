"""`inspect --html`: one self-contained page, rendered by headless Chromium (Debian's package,
installed by `make system-deps`): the charts are in the laid-out page with bars of real size,
and a screenshot of it is far from blank."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from pathlib import Path

import pytest

from dataspoc_lens.errors import ExitCode
from lake import shop, varied_lake

# Added to a copy of the page only: measures every chart as Chromium laid it out.
MEASURE = """<script>
const charts = [...document.querySelectorAll("svg.chart")].map(svg => ({
  kind: svg.getAttribute("class"),
  column: svg.closest(".column") ? svg.closest(".column").querySelector("h3").firstChild.textContent.trim() : null,
  box: [svg.getBoundingClientRect().width, svg.getBoundingClientRect().height],
  bars: [...svg.querySelectorAll(".bar")].map(bar => {
    const box = bar.getBoundingClientRect();
    return {count: bar.dataset.count === undefined ? null : Number(bar.dataset.count),
            value: bar.dataset.value === undefined ? null : Number(bar.dataset.value),
            width: box.width, height: box.height};
  }),
}));
const out = document.createElement("pre");
out.id = "measured";
out.textContent = JSON.stringify(charts);
document.body.appendChild(out);
</script>"""


@pytest.fixture
def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("chromium is not installed: run `make system-deps` (tools/system-deps.sh installs it)")
    return found


def browse(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def page(lens, local_lake, tmp_path) -> tuple[Path, dict]:
    """The page for raw.shop.sales, and the same figures as JSON."""
    varied_lake(local_lake)
    target = tmp_path / "sales.html"
    result = lens("inspect", "raw.shop.sales", "--bucket", local_lake.url, "--html", str(target), "--json")
    assert result.code == ExitCode.OK, result.stderr
    assert result.stderr.strip() == f"wrote {target}"
    return target, json.loads(result.stdout)


def test_page_is_self_contained(page):
    target, _ = page
    text = target.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    lowered = text.lower()
    for fetch in ("<script", "<link", "<img", "<iframe", "@import", "url(", "src=", "href=", "http://", "https://"):
        assert fetch not in lowered, fetch
    assert not list(target.parent.glob(".sales.html.*"))  # no temporary file left beside it


def test_charts_render_with_the_figures(page, chromium, tmp_path):
    target, figures = page
    measured_page = tmp_path / "measured.html"
    measured_page.write_text(target.read_text().replace("</body>", MEASURE + "</body>"))
    done = browse(chromium, tmp_path, "--dump-dom", measured_page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="measured">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stdout[-2000:]
    charts = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<"))
    columns = {c["name"]: c for c in figures["columns"]}

    histograms = {c["column"]: c for c in charts if "histogram" in c["kind"]}
    assert set(histograms) == {n for n, c in columns.items() if c["kind"] in ("number", "temporal")}
    for name, chart in histograms.items():
        bars = chart["bars"]
        assert [b["count"] for b in bars] == [b["count"] for b in columns[name]["histogram"]]
        assert sum(b["count"] for b in bars) == figures["rows"] - columns[name]["nulls"]
        for bar in bars:
            assert bar["width"] > 0
            assert (bar["height"] > 0) == (bar["count"] > 0), (name, bar)
        fullest = max(bars, key=lambda b: b["count"])
        assert fullest["height"] == pytest.approx(120, abs=0.5)  # the fullest bin fills the chart

    tops = {c["column"]: c for c in charts if "top-values" in c["kind"]}
    assert set(tops) == {n for n, c in columns.items() if c["kind"] in ("text", "boolean")}
    for name, chart in tops.items():
        assert [b["value"] for b in chart["bars"]] == [t["count"] for t in columns[name]["top"]]
        widths = [b["width"] for b in chart["bars"]]
        assert all(w > 0 for w in widths) and widths == sorted(widths, reverse=True)

    inline = [c for c in charts if "inline" in c["kind"]]
    assert len(inline) == 4 * len(columns)  # null and distinct bars, in the overview and each card
    for chart in inline:
        [bar] = chart["bars"]
        assert (bar["width"] > 0) == (bar["value"] > 0)

    [gauge] = [c for c in charts if "gauge" in c["kind"]]
    assert gauge["bars"][0]["value"] == figures["quality"]["score"] and gauge["box"][0] > 0
    [components] = [c for c in charts if "components" in c["kind"]]
    quality = figures["quality"]
    assert [b["value"] for b in components["bars"]] == pytest.approx(
        [quality[k] for k in ("completeness", "uniqueness", "freshness")]
    )


def test_screenshot_is_far_from_blank(page, chromium, tmp_path):
    target, _ = page
    shot = tmp_path / "sales.png"
    done = browse(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1280,1600", target.as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    width, height, pixels = read_png(shot.read_bytes())
    assert (width, height) == (1280, 1600)
    colours = Counter(pixels)
    [(background, _)] = colours.most_common(1)
    assert len(colours) > 50  # text, bars of several colours, anti-aliasing
    blue = sum(1 for p in pixels if p[2] > 150 and p[0] < 110 and p[1] < 150)  # the bars' #3f6fd1
    assert blue > 0.01 * len(pixels)
    assert sum(1 for p in pixels if p != background) > 0.1 * len(pixels)


def test_a_failed_run_leaves_the_old_page(lens, local_lake, tmp_path):
    shop(local_lake)
    target = tmp_path / "orders.html"
    target.write_text("the old page")
    result = lens("inspect", "raw.shop.orders", "--bucket", local_lake.url, "--html", str(target), "--key", "nope")
    assert result.code == ExitCode.USAGE
    assert target.read_text() == "the old page"
    result = lens("inspect", "raw.shop.orders", "--bucket", local_lake.url, "--html", str(target))
    assert result.code == ExitCode.OK, result.stderr
    assert "raw.shop.orders" in target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir() if "orders" in p.name) == ["orders.html"]


def test_a_page_into_a_missing_folder_is_a_usage_error(lens, local_lake, tmp_path):
    shop(local_lake)
    result = lens("inspect", "raw.shop.orders", "--bucket", local_lake.url, "--html", str(tmp_path / "no" / "x.html"))
    assert result.code == ExitCode.USAGE and result.stdout == ""
    assert result.stderr.startswith("error: --html ") and "does not exist" in result.stderr


def read_png(data: bytes) -> tuple[int, int, list[tuple[int, ...]]]:
    """Width, height and the RGB pixels of an 8-bit RGB or RGBA PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks, header = 8, [], b""
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        at += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    size = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * size
    previous = bytearray(stride)
    pixels: list[tuple[int, ...]] = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - size] if i >= size else 0
            up = previous[i]
            corner = previous[i - size] if i >= size else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        pixels += [tuple(line[i : i + 3]) for i in range(0, stride, size)]
        previous = line
    return width, height, pixels
