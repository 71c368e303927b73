"""`brandlake report`: a brand's sponsorship report from a lake the real jobs made; its numbers
are gold's, it renders in Chromium without errors, prints to PDF, and bad requests say why."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from jobs.analytics.sponsorship import (
    ReportError,
    ReportScope,
    build_report,
    render_html,
    write_pdf,
)
from tests.support import read_table

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (`make test` installs it where apt-get may)",
)
pytestmark = [pytest.mark.spark, pytest.mark.services]


@pytest.fixture(scope="module")
def exposed(demo_lake):
    """The demo lake's settings, its gold minutes, and the brand longest on screen."""
    settings = demo_lake[0]
    minutes = read_table(settings, "gold.brand_exposure_minute").to_pandas()
    brand = minutes.groupby("brand_id").screen_seconds.sum().idxmax()
    return settings, minutes, brand


def test_the_numbers_are_gold_s(exposed):
    settings, minutes, brand = exposed
    report = build_report(settings, ReportScope(brand))
    mine = minutes[minutes.brand_id == brand]
    assert report.totals["screen_seconds"] == pytest.approx(mine.screen_seconds.sum())
    assert report.totals["media_value"] == pytest.approx(mine.media_value.sum())
    assert report.totals["appearances"] == mine.appearances.sum()
    share = mine.screen_seconds.sum() / minutes.screen_seconds.sum()
    assert report.totals["share_of_voice"] == pytest.approx(share)
    assert report.per_minute.screen_seconds.sum() == pytest.approx(mine.screen_seconds.sum())
    served = read_table(settings, "gold.impression_context").to_pandas()
    served = served[(served.brand_id == brand) & served.invalid_reason.isna()]  # billed ones
    assert report.revenue["impressions"] == len(served)
    assert report.revenue["revenue"] == pytest.approx(served.clearing_cpm.sum() / 1000)
    assert 0 < len(report.moments) <= 5 and all(m.thumbnail_png for m in report.moments)
    assert report.model_versions and "about 2 times a second" in report.sampling
    page = render_html(report)
    assert f"{report.totals['screen_seconds']:.1f} s" in page
    assert f"{report.totals['media_value']:.2f} {report.currency}" in page
    assert report.totals["exposure_impressions"] == mine.exposure_impressions.sum()
    assert f"{int(report.totals['exposure_impressions']):,}" in page
    named = read_table(settings, "gold.brand_mentions_minute").to_pandas()
    named = named[named.brand_id == brand]
    assert report.mentions["text_mentions"] == named.text_mentions.sum()
    assert report.mentions["media_value"] == pytest.approx(named.media_value.sum())
    assert f"{int(report.mentions['text_mentions'])} times" in page
    # self-contained: nothing fetched, nothing run
    assert "<script" not in page and not re.search(r"""(src|href)=["']?(https?:|//)""", page)


@needs_chromium
def test_chromium_renders_it_without_errors_and_prints_it(exposed, tmp_path):
    from playwright.sync_api import sync_playwright

    settings, _, brand = exposed
    report = build_report(settings, ReportScope(brand, stream_id="arena-live"))
    out = tmp_path / f"{brand}.html"
    out.write_text(render_html(report))
    errors = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(out.as_uri())
        images = page.eval_on_selector_all("img", "all => all.map(i => i.naturalWidth)")
        page.screenshot(path=str(tmp_path / f"{brand}.png"), full_page=True)  # kept for a look
        browser.close()
    assert not errors
    assert len(images) == len(report.moments) and all(width > 0 for width in images)
    pdf = out.with_suffix(".pdf")
    write_pdf(out, pdf)
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf.read_bytes()))
    assert 2 <= pages <= 6, pages


def test_bad_requests_say_why(exposed):
    settings, minutes, brand = exposed
    with pytest.raises(ReportError, match=r"unknown brand .nope.: the catalog .* has fizzco"):
        build_report(settings, ReportScope("nope"))
    with pytest.raises(ReportError, match="unknown stream 'nowhere'"):
        build_report(settings, ReportScope(brand, stream_id="nowhere"))
    empty = ReportScope(brand, start=minutes.minute.max() + timedelta(hours=1))
    with pytest.raises(ReportError, match=r"no exposure of .* has minutes from"):
        build_report(settings, empty)


def test_a_lake_without_gold_says_what_to_run(tmp_path, monkeypatch):
    from jobs.common.config import load_settings

    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    with pytest.raises(ReportError, match="run `brandlake run exposure-revenue`"):
        build_report(load_settings(), ReportScope("fizzco"))
    assert not Path(tmp_path / "fizzco-report.html").exists()
