"""report.html in a real headless Chromium: it renders, every embedded image decodes, nothing is fetched."""

import re
import subprocess
from pathlib import Path

import pytest

from gan_lab.report import write_report
from tests.report_fakes import make_quality_sweep

CHROMIUM = Path("/usr/bin/chromium")
FIDS = {"0": [[300, 200, 120], [250, 150, 80], [400, 300, 200]], "0.99": [[290, 190, 110], [240, 140, 70], [390, 290]]}
# appended to a copy of the page only: the report itself has no scripts
CHECK_IMAGES = """<script>
window.addEventListener("load", () => {
  const imgs = [...document.images];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute("data-images", ok + "/" + imgs.length);
});
</script>"""


def chromium(*args, timeout=180):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
             "--virtual-time-budget=10000", "--no-first-run"]
    return subprocess.run([str(CHROMIUM), *flags, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def report_html(tmp_path_factory):
    report = write_report(make_quality_sweep(tmp_path_factory.mktemp("html"), FIDS), thresholds=[150])
    return report.with_suffix(".html")


def test_html_is_self_contained(report_html):
    text = report_html.read_text()
    sources = re.findall(r'src="([^"]*)"', text)
    assert len(sources) >= 8  # time-to-quality plot, curves / finals, six sample grids
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<script" not in text and "http://" not in text and "https://" not in text
    assert "<th>AUC (metric x M images)</th>" in text and "every 50 steps during training" in text


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium: apt-get install -y chromium")
def test_html_renders_in_headless_chromium(report_html, tmp_path):
    page = tmp_path / "page.html"
    page.write_text(report_html.read_text().replace("</body>", CHECK_IMAGES + "</body>"))
    dom = chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    loaded = re.search(r'data-images="(\d+)/(\d+)"', dom.stdout)
    assert loaded, "the load event never fired"
    ok, total = map(int, loaded.groups())
    assert total >= 8 and ok == total, f"{total - ok} of {total} images did not decode"
    assert "Time to quality: eval/classifier_fid" in dom.stdout

    shot = tmp_path / "shot.png"
    result = chromium(f"--screenshot={shot}", "--window-size=1280,2000", report_html.as_uri())
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    from PIL import Image, ImageStat

    with Image.open(shot) as img:
        assert img.size == (1280, 2000)
        assert max(ImageStat.Stat(img.convert("L")).stddev) > 10  # not a blank page
