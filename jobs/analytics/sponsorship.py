"""`brandlake report`: a brand's sponsorship report, one self-contained HTML file (and a PDF).

    brandlake report --brand fizzco [--stream arena-live] [--from 2026-12-01T18:00 --to ...]
                     [--out fizzco.html] [--pdf]

What sponsorship valuation delivers: the brand's totals (screen seconds, appearances, share of
voice, quality index, media value at the rate card), per stream and per minute, the quality
parts (size, position, clarity, clutter), its best moments as frames with the detector's boxes,
the ad revenue served while it was on screen, the model versions that measured it, and the
methodology (`jobs/exposure/metrics.py`'s own words). Every number comes from the gold tables
through `jobs/exposure/rollup.py`, the one place gold rows are summed. Charts are matplotlib
SVG and frames PNG, inlined: the file opens offline and prints as it shows. `--pdf` prints it
with headless Chromium.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from jobs.audience import metrics as audience_metrics
from jobs.common import object_store
from jobs.common.config import Settings, add_set_option, parse_overrides
from jobs.common.lake import open_table
from jobs.exposure import mentions as mention_metrics
from jobs.exposure import metrics
from jobs.exposure.rollup import exposure_rollup, quality_breakdown
from schemas.tables import (
    BRAND_EXPOSURE_MINUTE,
    BRAND_MENTIONS_MINUTE,
    DETECTIONS,
    IMPRESSION_CONTEXT,
    SEGMENT_CONTEXT,
)

MOMENTS = 5  # best moments shown, at most one per segment
THUMBNAIL_SIDE = 480  # pixels, the longer side


class ReportError(RuntimeError):
    """The report cannot be made: the message says why and what to do."""


@dataclass(frozen=True)
class ReportScope:
    brand_id: str
    stream_id: str | None = None
    start: datetime | None = None  # minutes from this one
    end: datetime | None = None  # minutes before this one

    def describe(self) -> str:
        where = self.stream_id or "every stream"
        since = self.start.isoformat() if self.start else "the start"
        until = self.end.isoformat() if self.end else "now"
        return f"{where}, {since} to {until}"


@dataclass
class Moment:
    frame_time: datetime
    stream_id: str
    confidence: float
    area_share: float
    thumbnail_png: bytes | None  # None when the segment is gone (retention) or unreadable


@dataclass
class SponsorshipReport:
    scope: ReportScope
    brand_name: str
    currency: str
    totals: dict
    per_stream: pd.DataFrame  # stream_id, screen_seconds, share_of_voice, ..., rate_per_second
    per_minute: pd.DataFrame  # minute, screen_seconds, share_of_voice
    quality: dict[str, float]
    revenue: dict[str, float]
    mentions: dict[str, float]  # named on screen and out loud: counts, seconds, media value
    model_versions: list[str]
    sampling: str
    moments: list[Moment] = field(default_factory=list)
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def _read(settings: Settings, name: str, producer_hint: str) -> pd.DataFrame:
    delta = open_table(settings, name)
    if delta is None:
        raise ReportError(f"{name} has not been written yet: {producer_hint}")
    return delta.to_pyarrow_table().to_pandas()


def _in_scope(frame: pd.DataFrame, scope: ReportScope, time_column: str) -> pd.DataFrame:
    keep = pd.Series(True, index=frame.index)
    if scope.stream_id is not None:
        keep &= frame.stream_id == scope.stream_id
    if scope.start is not None:
        keep &= frame[time_column] >= pd.Timestamp(scope.start)
    if scope.end is not None:
        keep &= frame[time_column] < pd.Timestamp(scope.end)
    return frame[keep]


def check_scope(settings: Settings, scope: ReportScope) -> str:
    """The brand's display name; ReportError for a brand or stream the catalog lacks."""
    catalog = settings.catalog
    brands = {b.brand_id: b.name for b in catalog.brands}
    if scope.brand_id not in brands:
        raise ReportError(
            f"unknown brand {scope.brand_id!r}: the catalog (conf/catalog.yaml) has "
            + ", ".join(brands)
        )
    streams = [s.stream_id for s in catalog.streams]
    if scope.stream_id is not None and scope.stream_id not in streams:
        raise ReportError(
            f"unknown stream {scope.stream_id!r}: the catalog has {', '.join(streams)}"
        )
    return brands[scope.brand_id]


def build_report(settings: Settings, scope: ReportScope, thumbnails: bool = True):
    """The report's numbers (and frames) from the lake."""
    brand_name = check_scope(settings, scope)
    hint = "run `brandlake run exposure-revenue` (or `brandlake demo`)"
    every_minute = _read(settings, BRAND_EXPOSURE_MINUTE.name, hint)
    minutes = _in_scope(every_minute, scope, "minute")
    mine = minutes[minutes.brand_id == scope.brand_id]
    if mine.empty or mine.screen_seconds.sum() <= 0:
        raise ReportError(
            f"no exposure of {scope.brand_id} on {scope.describe()}: "
            + _coverage(every_minute, minutes)
        )
    totals = exposure_rollup(minutes).set_index("brand_id").loc[scope.brand_id].to_dict()
    per_stream = exposure_rollup(minutes, ["brand_id", "stream_id"])
    per_stream = per_stream[per_stream.brand_id == scope.brand_id].merge(
        mine.groupby("stream_id", as_index=False).rate_per_second.max(), on="stream_id"
    )
    per_minute = exposure_rollup(minutes, ["brand_id", "minute"])
    per_minute = per_minute[per_minute.brand_id == scope.brand_id].sort_values("minute")
    served = _in_scope(_read(settings, IMPRESSION_CONTEXT.name, hint), scope, "event_time")
    served = served[served.brand_id == scope.brand_id]
    if "invalid_reason" in served:  # invalid traffic is not revenue (jobs/audience/ivt.py)
        served = served[served.invalid_reason.isna()]
    revenue = served.clearing_cpm / 1000
    report = SponsorshipReport(
        scope=scope,
        brand_name=brand_name,
        currency=settings.catalog.rate_card.currency,
        totals=totals,
        per_stream=per_stream,
        per_minute=per_minute,
        quality=quality_breakdown(mine),
        revenue={
            "impressions": float(len(served)),
            "revenue": float(revenue.sum()),
            "revenue_on_screen": float((revenue * served.own_brand_on_screen).sum()),
        },
        mentions=brand_mentions(settings, scope),
        model_versions=[],
        sampling=sampling(settings, scope),
    )
    detections = brand_detections(settings, scope)
    report.model_versions = sorted(detections.model_version.unique())
    report.moments = best_moments(settings, detections, thumbnails)
    return report


MENTION_TOTALS = ["text_mentions", "text_seconds", "speech_mentions", "speech_seconds",
                  "media_value"]  # fmt: skip


def brand_mentions(settings: Settings, scope: ReportScope) -> dict[str, float]:
    """The brand's mentions in scope, summed (zeros before any were measured)."""
    delta = open_table(settings, BRAND_MENTIONS_MINUTE.name)
    rows = pd.DataFrame(columns=["brand_id", "stream_id", "minute", *MENTION_TOTALS])
    if delta is not None:
        rows = _in_scope(delta.to_pyarrow_table().to_pandas(), scope, "minute")
    mine = rows[rows.brand_id == scope.brand_id]
    return {name: float(mine[name].sum()) for name in MENTION_TOTALS}


def sampling(settings: Settings, scope: ReportScope) -> str:
    """How often the report's frames were analysed and how exact an appearance's ends are,
    from the frames themselves (the configuration may have changed since)."""
    delta = open_table(settings, SEGMENT_CONTEXT.name)
    frames = pd.DataFrame() if delta is None else _in_scope(
        delta.to_pyarrow_table(columns=["stream_id", "frame_time", "interval_s", "refined"])
        .to_pandas(), scope, "frame_time",
    )  # fmt: skip
    if frames.empty or not frames.interval_s.sum() > 0:
        return "unknown: no analysed frames with their intervals in the lake"
    # Frames stand for the video up to the next one, boundary frames included: their
    # intervals add up to the video's length, over which the sampled ones were spread.
    refined = frames.refined.fillna(False).astype(bool)  # null in rows older than the column
    fps = round(2 * (~refined).sum() / frames.interval_s.sum()) / 2  # to half a frame
    ends = ("refined to the exact frame (brand detector only)" if refined.any()
            else f"within {0.5 / fps:.2g} s")  # fmt: skip
    return f"about {fps:g} times a second; appearances start and end {ends}"


def _coverage(every_minute: pd.DataFrame, in_scope: pd.DataFrame) -> str:
    """Why a scope has no exposure of the brand, and where there is some."""
    if every_minute.empty:
        return "gold.brand_exposure_minute is empty"
    if not in_scope.empty:
        return "only other brands were on screen then"
    first, last = every_minute.minute.min(), every_minute.minute.max()
    streams = ", ".join(sorted(every_minute.stream_id.unique()))
    return f"gold.brand_exposure_minute has minutes from {first} to {last}, of {streams}"


def brand_detections(settings: Settings, scope: ReportScope) -> pd.DataFrame:
    delta = open_table(settings, DETECTIONS.name)
    if delta is None:
        return pd.DataFrame(columns=DETECTIONS.columns)
    found = delta.to_pyarrow_table().to_pandas()
    found = found[(found.kind == "brand") & (found.label == scope.brand_id)]
    return _in_scope(found, scope, "frame_time")


def best_moments(settings: Settings, detections: pd.DataFrame, thumbnails: bool) -> list[Moment]:
    """The brand's largest, surest sightings (area share x confidence), one per segment."""
    if detections.empty:
        return []
    ranked = detections.assign(score=detections.area_share * detections.confidence)
    ranked = ranked.sort_values("score", ascending=False).drop_duplicates("segment_id")
    segments = _segment_uris(settings)
    moments = []
    for row in ranked.head(MOMENTS).itertuples(index=False):
        uri = segments.get(row.segment_id)
        picture = _thumbnail(settings, uri, row) if thumbnails and uri else None
        moments.append(Moment(row.frame_time, row.stream_id, row.confidence, row.area_share,
                              picture))  # fmt: skip
    return moments


def _segment_uris(settings: Settings) -> dict[str, str]:
    delta = open_table(settings, "bronze.segments")
    if delta is None:
        return {}
    table = delta.to_pyarrow_table(columns=["event_id", "uri"])
    return dict(zip(table.column("event_id").to_pylist(), table.column("uri").to_pylist(),
                    strict=True))  # fmt: skip


def _thumbnail(settings: Settings, uri: str, detection) -> bytes | None:
    """The frame of a detection, scaled down, with its box drawn; None when unreadable."""
    from PIL import Image, ImageDraw

    from udfs.decoding.frames import SegmentDecodeError, SegmentFrames

    filesystem = None
    if object_store.on_s3(uri):
        filesystem, _ = object_store.filesystem(uri, settings.lake.storage_options)
    index = int(detection.frame_index)
    decoder = SegmentFrames(uri, 1.0, filesystem=filesystem, max_side=THUMBNAIL_SIDE)
    try:
        frame = decoder.between([(index - 1, index + 1)]).get(index)
    except SegmentDecodeError:
        return None
    if frame is None:
        return None
    image = Image.fromarray(frame.image)
    width, height = image.size
    box = [detection.x1 * width, detection.y1 * height, detection.x2 * width,
           detection.y2 * height]  # fmt: skip
    ImageDraw.Draw(image).rectangle(box, outline=(255, 214, 0), width=3)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# --- rendering ------------------------------------------------------------------------------


def _svg(draw, height: float = 2.6) -> str:
    """A matplotlib figure drawn by `draw(axes)`, as inline SVG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(7.5, height))
    draw(axes)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    out = io.StringIO()
    figure.savefig(out, format="svg")
    plt.close(figure)
    return out.getvalue()[out.getvalue().index("<svg") :]


def _per_minute_chart(report: SponsorshipReport) -> str:
    minutes = report.per_minute

    def draw(axes) -> None:
        axes.bar(minutes.minute, minutes.screen_seconds, width=1 / 1440 * 0.8, color="#2f6fdf")
        axes.set_ylabel("screen seconds")
        share = axes.twinx()
        share.plot(minutes.minute, minutes.share_of_voice * 100, color="#e07b00", marker="o")
        share.set_ylabel("share of voice, %")
        share.spines[["top"]].set_visible(False)

    return _svg(draw)


def _per_stream_chart(report: SponsorshipReport) -> str:
    streams = report.per_stream

    def draw(axes) -> None:
        axes.barh(streams.stream_id, streams.screen_seconds, color="#2f6fdf", height=0.5)
        axes.set_xlabel("screen seconds")

    return _svg(draw, height=0.9 + 0.4 * len(streams))


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #1d1d1f; }
h1 { margin-bottom: 0; } .scope { color: #555; margin-top: .2em; }
.totals { display: flex; flex-wrap: wrap; gap: .8em; }
.total { border: 1px solid #ddd; border-radius: 6px; padding: .6em 1em; min-width: 9em; }
.total b { display: block; font-size: 1.5em; }
table { border-collapse: collapse; margin: .5em 0; } th, td { padding: .25em .8em; text-align: left;
border-bottom: 1px solid #eee; } td.n, th.n { text-align: right; }
.moments { display: flex; flex-wrap: wrap; gap: 1em; } .moment { width: 18em; font-size: .85em; }
.moment img { width: 100%; border-radius: 4px; } pre { white-space: pre-wrap; font-size: .8em; }
section { page-break-inside: avoid; }
"""


def _moment_html(moment: Moment) -> str:
    if moment.thumbnail_png:
        data = base64.b64encode(moment.thumbnail_png).decode()
        picture = f"<img alt='frame' src='data:image/png;base64,{data}'>"
    else:
        picture = "<p>(the frame is no longer in the landing area)</p>"
    return (
        f"<div class=moment>{picture}<p>{html.escape(moment.stream_id)} at "
        f"{moment.frame_time:%Y-%m-%d %H:%M:%S} UTC; {moment.area_share:.1%} of the frame, "
        f"confidence {moment.confidence:.2f}</p></div>"
    )


def render_html(report: SponsorshipReport) -> str:
    """The report as one HTML document: no scripts, no external files."""
    t, c = report.totals, report.currency
    esc = html.escape
    totals = [
        ("screen time", f"{t['screen_seconds']:.1f} s"),
        ("appearances", f"{int(t['appearances'])}"),
        ("share of voice", f"{t['share_of_voice']:.1%}"),
        ("quality index", f"{t['quality_index']:.2f}"),
        ("media value", f"{t['media_value']:.2f} {c}"),
        ("viewer hours on screen", f"{t['viewer_seconds'] / 3600:,.1f}"),
        ("exposure impressions", f"{int(t['exposure_impressions']):,}"),
    ]
    streams = "".join(
        f"<tr><td>{esc(r.stream_id)}</td><td class=n>{r.screen_seconds:.1f}</td>"
        f"<td class=n>{r.share_of_voice:.1%}</td><td class=n>{r.quality_index:.2f}</td>"
        f"<td class=n>{r.media_value:.2f}</td><td class=n>{r.rate_per_second:g}</td></tr>"
        for r in report.per_stream.itertuples()
    )
    q = report.quality
    moments = "".join(_moment_html(m) for m in report.moments)
    r, m = report.revenue, report.mentions
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{esc(report.brand_name)}: sponsorship report</title><style>{STYLE}</style></head>
<body>
<h1>{esc(report.brand_name)}: sponsorship report</h1>
<p class=scope>{esc(report.scope.describe())}; made {report.generated_at:%Y-%m-%d %H:%M} UTC by
brandlake from the gold tables</p>
<section><h2>Totals</h2><div class=totals>
{"".join(f"<div class=total>{esc(k)}<b>{esc(v)}</b></div>" for k, v in totals)}</div></section>
<section><h2>Per stream</h2>{_per_stream_chart(report)}
<table><tr><th>stream</th><th class=n>screen s</th><th class=n>share of voice</th>
<th class=n>quality</th><th class=n>media value ({esc(c)})</th>
<th class=n>rate card ({esc(c)}/s)</th></tr>{streams}</table></section>
<section><h2>Per minute</h2>{_per_minute_chart(report)}</section>
<section><h2>Quality</h2>{_table([
    ("size", f"{q['mean_size_share']:.2%} of the frame on average, "
             f"{q['max_size_share']:.2%} at most"),
    ("position", f"{q['position_weight']:.2f} (1 centre, 0 corner)"),
    ("clarity", f"{q['clarity']:.2f} (the detector's mean confidence)"),
    ("clutter", f"{q['clutter']:.2f} other brands on screen at once"),
])}</section>
<section><h2>Named on screen and out loud</h2>{_table([
    ("in on-screen text (captions, lower thirds; not its logo)",
     f"{int(m['text_mentions'])} times, {m['text_seconds']:.1f} s on screen"),
    ("said out loud", f"{int(m['speech_mentions'])} times, {m['speech_seconds']:.1f} s"),
    ("media value of mentions (beside the screen time's above)",
     f"{m['media_value']:.2f} {c}"),
])}</section>
<section><h2>Best moments</h2><div class=moments>{moments or "<p>none</p>"}</div></section>
<section><h2>Ad revenue while on screen</h2>{_table([
    ("impressions of its campaigns (invalid traffic left out)", f"{int(r['impressions'])}"),
    ("revenue", f"{r['revenue']:.2f} {c}"),
    ("served while the brand was on screen", f"{r['revenue_on_screen']:.2f} {c}"),
])}</section>
<section><h2>Methodology</h2>
<p>Measured by {esc(", ".join(report.model_versions) or "-")}; frames analysed
{esc(report.sampling)}.</p><pre>{esc(metrics.__doc__ or "")}</pre>
<p>Audience (viewer hours, exposure impressions) and the invalid traffic left out of it and of
revenue:</p><pre>{esc(audience_metrics.__doc__ or "")}</pre>
<p>Mentions:</p><pre>{esc(mention_metrics.__doc__ or "")}</pre></section>
</body></html>
"""  # fmt: skip


def write_pdf(html_path: Path, pdf_path: Path) -> None:
    """Print the HTML to PDF with headless Chromium (Debian's `chromium`)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise ReportError("--pdf needs Chromium: install Debian's chromium (`make chromium`)")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
             "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    if done.returncode != 0 or not pdf_path.exists():
        raise ReportError(f"Chromium could not print {html_path}: {done.stderr[-500:]}")


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ReportError(
            f"{option} {text!r} is not a time (ISO 8601, e.g. 2026-12-01T18:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> None:
    from jobs.entrypoint import command_settings

    parser = argparse.ArgumentParser(prog="brandlake report", description=__doc__.split("\n")[0])
    parser.add_argument("--brand", required=True, help="a brand id of conf/catalog.yaml")
    parser.add_argument("--stream", help="one stream (default: every stream)")
    parser.add_argument("--from", dest="start", help="first minute, ISO 8601 (UTC if no zone)")
    parser.add_argument("--to", dest="end", help="end, exclusive, ISO 8601")
    parser.add_argument("--out", type=Path, help="the HTML file (default: <brand>-report.html)")
    parser.add_argument("--pdf", action="store_true", help="also print it to <out>.pdf")
    add_set_option(parser)
    args = parser.parse_args(argv)
    settings = command_settings(parse_overrides(args.set))
    scope = ReportScope(args.brand, args.stream, _moment(args.start, "--from"),
                        _moment(args.end, "--to"))  # fmt: skip
    report = build_report(settings, scope)
    out = args.out or Path(f"{args.brand}-report.html")
    out.write_text(render_html(report))
    print(f"{out}: {report.brand_name}, {report.totals['screen_seconds']:.1f} s on screen, "
          f"media value {report.totals['media_value']:.2f} {report.currency}")  # fmt: skip
    if args.pdf:
        write_pdf(out, out.with_suffix(".pdf"))
        print(out.with_suffix(".pdf"))
