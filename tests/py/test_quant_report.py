"""`f8 quant-report` on the smollm2-tiny fixture: an --auto-format file
against its BF16 conversion. The terminal table has one row per layer and the
summary line; the HTML page is self-contained (no external URL, no script)
and renders in headless Chromium (the browser the server page test uses):
charts, the format grid with one cell per linear tensor, the summary cards,
and the tensor table. A screenshot is kept under $F8_SCREENSHOT_DIR when set."""
import os
import re
import shutil

import pytest

from test_calibrate import TEXT
from test_generate_cli import F8, FIXTURE, f8, one_error_line

pytestmark = [pytest.mark.skipif(not F8.exists(), reason="f8 not built"),
              pytest.mark.skipif(not (FIXTURE / "config.json").exists(), reason="fixture smollm2-tiny missing")]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    text = d / "t.txt"
    text.write_text(TEXT)
    assert f8("convert", FIXTURE, "-o", d / "bf16.f8", "--weights", "bf16", "-q").returncode == 0
    r = f8("convert", FIXTURE, "-o", d / "auto.f8", "--calibrate", text, "--calib-tokens", "256",
           "--auto-format", "9", "--heldout-tokens", "64", "-q")
    assert r.returncode == 0, r.stderr.decode()
    html = d / "report.html"
    r = f8("quant-report", d / "auto.f8", "--base", d / "bf16.f8", "-f", text, "--chunk", "64", "--chunks", "3",
           "--html", html)
    assert r.returncode == 0, r.stderr.decode()
    return d, html, r.stdout.decode()


def test_terminal_table(report):
    _, _, out = report
    lines = out.splitlines()
    assert lines[0].startswith(str(report[0] / "auto.f8"))
    assert re.match(r"\s*layer\s+min SQNR", lines[2]) and "layer KL" in lines[2]
    rows = [l for l in lines if re.match(r"\s+\d+\s", l)]
    assert len(rows) == 2  # two layers
    summary = [l for l in lines if l.startswith("vs base")]
    assert summary and "PPL" in summary[0] and "same top" in summary[0]


def test_page_is_self_contained(report):
    _, html, _ = report
    s = html.read_text()
    assert s.startswith("<!DOCTYPE html>")
    assert "<script" not in s
    # Only the SVG namespace may look like a URL.
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+[^\s'\"<>]*", s))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    assert "<link" not in s and "@import" not in s


def test_page_renders_in_browser(report):
    selenium = pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("chromium / chromium-driver not installed")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,1400"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(driver), options=opts)
    try:
        d.get(report[1].as_uri())
        assert d.title.startswith("f8 quant-report")
        assert d.find_element(By.TAG_NAME, "body").get_attribute("data-report") == "f8-quant-report"
        charts = d.find_elements(By.CSS_SELECTOR, "svg.chart")
        assert len(charts) >= 6  # SQNR, sat, flush, format grid, sensitivity, layer KL (+ calibration)
        for c in charts:  # every chart is laid out with a real size
            assert c.size["width"] > 150 and c.size["height"] > 80
        cells = d.find_elements(By.CSS_SELECTOR, "rect.cell")
        assert len(cells) == 14  # 2 layers x 7 linear tensors
        fills = {c.get_attribute("fill") for c in cells}
        assert len(fills) >= 2  # more than one format chosen
        kl = d.find_element(By.ID, "kl").text
        assert re.search(r"\d\.\d+", kl)
        assert d.find_element(By.ID, "sametop").text.endswith("%")
        assert len(d.find_elements(By.CSS_SELECTOR, "#tensors tr")) == 15
        shots = os.environ.get("F8_SCREENSHOT_DIR")
        if shots:
            os.makedirs(shots, exist_ok=True)
            d.save_screenshot(os.path.join(shots, "quant_report_tiny.png"))
    finally:
        d.quit()


def test_bad_arguments(report, tmp_path):
    d, _, _ = report
    r = f8("quant-report", d / "auto.f8", "--base", d / "bf16.f8", "--html", tmp_path / "x.html")
    assert r.returncode == 2 and "go together" in one_error_line(r)
    r = f8("quant-report", tmp_path / "missing.f8", "--html", tmp_path / "x.html")
    assert r.returncode == 1
    one_error_line(r)
    assert not (tmp_path / "x.html").exists()
