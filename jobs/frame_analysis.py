"""frame_analysis: every new video segment -> brands, people, scene, safety, text and speech.

    brandlake run frame-analysis [--available-now] [--set jobs.frame_analysis.sample_fps=1]
    brandlake streams reprocess arena-live    (the segments a stream recorded in `batch` mode)

Reads segment events from Kafka. Each segment is decoded and analysed inside one Arrow UDF on
an executor (`udfs/analysis/segment.py`): frames sampled as the stream's processing mode at the
segment's start says (`jobs/control/modes.py`: `standard` is `sample_fps`), then the brand detector
(`models:/brand-detector@champion` from the MLflow registry), the person detector, the scene
embedder and the safety model, in batches, on the executor's GPU when it has one. Pixels never
leave that UDF. Out of it come:

- `silver.detections` (one row per box) and `silver.segment_context` (one row per frame), written
  exactly once per micro-batch by the Delta sink (a stream's segments recorded in a deferred
  mode, `batch`, are left to the reprocess pass, `reprocess`);
- `silver.text_lines` (the lines of on-screen text read at `models.text.sample_fps`),
  `silver.transcripts` (the words said, from the segment's audio: a step of this job rather
  than a job of its own, so mentions commit with the frames they were said over and reach
  gold with them, and the segment is fetched once) and `silver.brand_mentions` (catalog brands
  named in either; a logo's own printed name is the logo's), in the same commit;
- `bronze.quarantine` rows for segment events that are invalid or whose file cannot be decoded,
  with the reason (the stream goes on with the next segment), and for segments whose audio
  cannot be decoded (their pictures are analysed all the same).

Only after those commits, from the rows they committed (read back by the sink), does the load
step publish:

- one message per analysed frame on the `detections` topic (its brands, scene, safety; keyed by
  stream), for downstream jobs. Delivery is at least once: a batch replayed after a crash
  between the commit and the publish sends its frames again with the same `frame_id`s, which
  consumers use to drop repeats; a batch whose commit failed sends nothing;
- the stream's latest frame in Redis (`jobs/common/live_state.py`), which never moves back.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
from pyspark.accumulators import Accumulator, AccumulatorParam
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from jobs.common import metrics
from jobs.common.config import Settings, SpeechConf, TextConf
from jobs.common.delta_sink import DeltaSink, WriteResult
from jobs.common.kafka import publish_json
from jobs.common.live_state import LIVE_KEY, redis_url, set_if_newer
from jobs.common.quarantine import quarantine_table, sort_records
from jobs.common.registry import ModelRef, champion, champion_version
from jobs.common.spark import read_kafka_stream
from jobs.common.streaming import BatchClock, run_job, start_query
from jobs.control.modes import ModeSchedule, Sampling, read_schedule, samplings
from jobs.ingest.ffmpeg import SEGMENT_PATTERN
from jobs.ingest.storage import landing_filesystem
from schemas.events import SEGMENTS
from schemas.tables import (
    BRAND_MENTIONS,
    DETECTIONS,
    QUARANTINE,
    SEGMENT_CONTEXT,
    SILVER_TABLES,
    TEXT_LINES,
    TRANSCRIPTS,
)
from udfs.analysis.segment import (
    Analyzers,
    DetectionRow,
    FrameContext,
    ModelTimer,
    analyse_segment,
)
from udfs.context.scene import ScenePrototypes
from udfs.decoding.audio import SegmentAudioError
from udfs.decoding.frames import SegmentDecodeError
from udfs.detection.brand import ColourCheck
from udfs.speech import transcribe
from udfs.speech.segment import segment_speech
from udfs.text import ocr
from udfs.text.mentions import BrandName, brand_names, find_mentions, outside_logos

log = logging.getLogger("brandlake.frame_analysis")

TABLES = [DETECTIONS, SEGMENT_CONTEXT, TEXT_LINES, TRANSCRIPTS, BRAND_MENTIONS, QUARANTINE]


# -- models ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """Which models the executors load: plain values, resolved once on the driver."""

    person_confidence: float
    person_image_size: int
    brand_confidence: float
    brand_image_size: int
    brand: ModelRef | None = None
    brand_colour_check: ColourCheck | None = None
    prototypes: ScenePrototypes | None = None
    clip: tuple[str, str] | None = None  # (architecture, weights): CLIP embeds the frames
    safety: bool = True
    torch_threads: int = 0  # 0: leave torch's default
    backend: str = "torch"  # what runs the detectors (models.backend)
    text: TextConf | None = None  # on-screen text (models.text), None: not read
    speech: SpeechConf | None = None  # words said (models.speech), None: not listened to
    hotwords: tuple[str, ...] = ()  # the catalog's brand names and aliases, for speech

    @property
    def key(self) -> tuple:
        fingerprint = self.prototypes.fingerprint if self.prototypes else None
        return (self.person_confidence, self.person_image_size, self.brand, fingerprint,
                self.clip, self.brand_confidence, self.brand_image_size, self.safety,
                self.brand_colour_check, self.backend, self.text, self.speech,
                self.hotwords)  # fmt: skip

    def describe(self) -> str:
        """Every model and version that looks at a frame, for `segment_context.models`."""
        from udfs.context.scene import model_version as scene_version
        from udfs.detection.person import MODEL_NAME, model_version
        from udfs.safety.nsfw import model_version as safety_version

        parts = [f"{MODEL_NAME} ({model_version()})"]
        if self.brand is not None:
            parts.append(self.brand.label)
        if self.prototypes is not None:
            embedder = f"open_clip {' '.join(self.clip)}" if self.clip else scene_version()
            parts.append(f"{embedder} prototypes {self.prototypes.fingerprint}")
        if self.safety:
            parts.append(safety_version())
        return "; ".join(parts)


_ANALYZERS: dict[tuple, Analyzers] = {}


def analyzers_for(spec: ModelSpec) -> Analyzers:
    """The analyzers of `spec`, loaded once per Python worker (Spark reuses workers); those
    of an earlier spec (a champion since replaced) are dropped."""
    if spec.key not in _ANALYZERS:
        _ANALYZERS.clear()
        from udfs.artefacts import local_weights
        from udfs.detection.brand import BrandDetector
        from udfs.detection.person import PersonDetector
        from udfs.devices import torch_device
        from udfs.safety.nsfw import SafetyScorer

        device = torch_device()
        if spec.torch_threads and device == "cpu":
            import torch

            torch.set_num_threads(spec.torch_threads)
        brand = spec.brand
        _ANALYZERS[spec.key] = Analyzers(
            people=PersonDetector(
                device, spec.person_confidence, spec.person_image_size, spec.backend
            ),
            brands=BrandDetector(
                str(local_weights(brand.name, brand.version, brand.source, brand.tracking_uri)),
                brand.label,
                device,
                spec.brand_confidence,
                spec.brand_image_size,
                spec.brand_colour_check,
                spec.backend,
            )
            if brand is not None
            else None,
            embedder=_embedder(spec, device) if spec.prototypes is not None else None,
            prototypes=spec.prototypes,
            safety=SafetyScorer() if spec.safety else None,
            **_text_reader(spec),
            speech=transcribe.SpeechReader(
                list(spec.hotwords), device, max(spec.torch_threads, 1), spec.speech.vad
            )
            if spec.speech is not None
            else None,
        )
    return _ANALYZERS[spec.key]


def _text_reader(spec: ModelSpec) -> dict:
    """The `Analyzers` fields that read on-screen text, when `models.text` is enabled."""
    if spec.text is None:
        return {}
    return {
        "text": ocr.TextReader(
            spec.text.min_confidence, max(spec.torch_threads, 1), spec.text.detect_side
        ),
        "text_fps": spec.text.sample_fps,
        "text_side": spec.text.max_side,
    }


def _embedder(spec: ModelSpec, device: str):
    if spec.clip is not None:
        from udfs.context.clip import ClipEmbedder

        return ClipEmbedder(*spec.clip, device)
    from udfs.context.scene import ImageEmbedder

    return ImageEmbedder(device, spec.backend)


def scene_examples(settings: Settings) -> dict[str, list[np.ndarray]]:
    """The labelled example frames of `models.scene.examples`, as RGB images."""
    import cv2

    from jobs.sample_media.logos import render_logo
    from jobs.sample_media.scenes import load_photo

    brands = {b.brand_id: b for b in settings.catalog.brands}
    examples: dict[str, list[np.ndarray]] = {}
    for label, references in settings.models.scene.examples.items():
        images = examples.setdefault(label, [])
        for reference in references:
            kind, _, name = reference.partition(":")
            if kind == "skimage" and name:
                images.append(load_photo(name))
            elif kind == "logo" and name:
                if name not in brands:
                    raise ValueError(f"models.scene.examples.{label}: no brand {name!r} in catalog")
                images.append(_logo_card(render_logo(brands[name])))
            else:
                paths = sorted(glob.glob(str(Path(settings.home, reference))))
                if not paths:
                    raise FileNotFoundError(
                        f"models.scene.examples.{label}: {reference!r} matches no file"
                    )
                images += [cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB) for p in paths]
    return examples


def _logo_card(logo: np.ndarray) -> np.ndarray:
    """A full-screen advertisement: the logo centred on a plain card."""
    height, width = logo.shape[0] * 3, logo.shape[1] * 2
    card = np.full((height, width, 3), 245, np.uint8)
    y, x = (height - logo.shape[0]) // 2, (width - logo.shape[1]) // 2
    alpha = logo[..., 3:4].astype(np.float32) / 255
    region = card[y : y + logo.shape[0], x : x + logo.shape[1]]
    region[:] = (logo[..., :3] * alpha + region * (1 - alpha)).astype(np.uint8)
    return card


def brand_colour_check(settings: Settings) -> ColourCheck:
    """The brand detector's colour check (`models.brand_detector.colour_check`) with the
    catalog's brand colours."""
    conf = settings.models.brand_detector.colour_check
    colours = tuple((b.brand_id, (b.color, *b.alternate_colors)) for b in settings.catalog.brands)
    return ColourCheck(colours, conf.min_share, conf.max_chroma, conf.max_lightness)


def resolve_models(settings: Settings) -> ModelSpec:
    """The champion brand detector's version (its weights are fetched by each executor) and
    the scene prototypes, on the driver: text prompts' CLIP embeddings when `models.scene.clip`
    is set, else the example frames' CNN embeddings."""
    conf = settings.models
    brand = (
        champion(settings, conf.brand_detector.name, download=False)
        if conf.brand_detector.enabled
        else None
    )
    scene = conf.scene
    clip = None
    if scene.clip:
        from udfs.context.clip import ClipEmbedder

        home = Path(settings.home)
        architecture = scene.clip_architecture
        if architecture.endswith(".json"):
            architecture = str(home / architecture)
        weights = str(home / scene.clip) if Path(home, scene.clip).exists() else scene.clip
        clip = (architecture, weights)
        prototypes = ClipEmbedder(*clip, "cpu").text_prototypes(
            scene.labels, scene.prompt, scene.fallback
        )
    else:
        from udfs.context.scene import ImageEmbedder

        prototypes = ScenePrototypes.from_examples(
            ImageEmbedder("cpu"), scene_examples(settings), scene.fallback, scene.min_similarity
        )
    return ModelSpec(
        person_confidence=conf.person_detector.confidence,
        person_image_size=conf.person_detector.image_size,
        brand=brand,
        brand_confidence=conf.brand_detector.confidence,
        brand_image_size=conf.brand_detector.image_size,
        brand_colour_check=brand_colour_check(settings),
        prototypes=prototypes,
        clip=clip,
        safety=conf.safety_enabled,
        backend=conf.backend,
        text=conf.text if conf.text.enabled else None,
        speech=conf.speech if conf.speech.enabled else None,
        hotwords=speech_hotwords(settings),
    )


def speech_hotwords(settings: Settings) -> tuple[str, ...]:
    """The catalog's brand names and aliases, in alphabetical order, for the speech model.

    tiny.en copies the hotword list into what it hears ("from FizzCo and Pinecrest"), more or
    less with the list: on 20 development broadcasts this list made 3 false names, the names
    without aliases 14, names and aliases in catalog order 25."""
    return tuple(sorted({name.name for name in brand_names(settings.catalog.brands)}))


# -- transform -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnalyseSegments:
    """Kafka segment events (one Arrow batch) -> rows of the silver tables and the quarantine.

    Runs on the executors inside the Delta sink's single pass, so frames are decoded, analysed
    and dropped there; only rows leave.
    """

    models: ModelSpec
    samplings: dict[str, Sampling]  # per processing mode
    schedule: ModeSchedule  # each stream's mode by segment start time
    batch_size: int
    analysed_at: datetime
    segment_store: pafs.FileSystem | None = None  # where segments are, unless local files
    # False: the live pass, which leaves segments of a deferred mode (`batch`); True: the
    # reprocess pass, which analyses only those
    deferred_pass: bool = False
    model_seconds: Accumulator | None = None  # each model's time, back to the driver
    brand_names: tuple[BrandName, ...] = ()  # the catalog's names and aliases: text, speech

    def __call__(self, batch: pa.RecordBatch) -> dict[str, pa.Table]:
        models = self.models.describe()
        brands_only = self.models.brand.label if self.models.brand is not None else ""
        timings: dict[str, float] = {}
        unheard: dict[bytes, str] = {}  # segment events whose audio could not be decoded
        records = sort_records(
            batch,
            lambda topic, value: self._analyse(topic, value, timings, unheard),
            self.analysed_at,
        )
        if self.model_seconds is not None and timings:
            self.model_seconds.add(timings)
        detections: list[dict] = []
        frames: list[dict] = []
        lines: list[dict] = []
        words: list[dict] = []
        mentions: list[dict] = []
        for segment, found, context, sampling, speech in records.parsed("segments"):
            stamp = {"processing_mode": sampling.mode, "sample_fps": sampling.stamped_fps}
            frames += [
                {**self._frame_row(segment, c, brands_only if c.refined else models), **stamp}
                for c in context
            ]
            detections += [{**row, **stamp} for row in self._detection_rows(segment, found)]
            segment_lines, segment_mentions = self._text_rows(segment, found, context)
            lines += segment_lines
            words += self._word_rows(segment, speech[0])
            mentions += segment_mentions + self._spoken_rows(segment, speech[1], context)
        return {
            DETECTIONS.name: pa.Table.from_pylist(detections, schema=DETECTIONS.schema),
            SEGMENT_CONTEXT.name: pa.Table.from_pylist(frames, schema=SEGMENT_CONTEXT.schema),
            TEXT_LINES.name: pa.Table.from_pylist(lines, schema=TEXT_LINES.schema),
            TRANSCRIPTS.name: pa.Table.from_pylist(words, schema=TRANSCRIPTS.schema),
            BRAND_MENTIONS.name: pa.Table.from_pylist(mentions, schema=BRAND_MENTIONS.schema),
            QUARANTINE.name: pa.concat_tables([records.quarantine, self._unheard(batch, unheard)]),
        }

    def _unheard(self, batch: pa.RecordBatch, unheard: dict[bytes, str]) -> pa.Table:
        """Quarantine rows for the segments whose pictures were analysed but whose audio
        could not be decoded."""
        values = batch.column("value").to_pylist()
        indices = [i for i, value in enumerate(values) if value in unheard]
        reasons = [unheard[values[i]] for i in indices]
        return quarantine_table(batch.take(pa.array(indices, pa.int64())), reasons,
                                self.analysed_at)  # fmt: skip

    def _analyse(
        self,
        topic: str,
        value: bytes | None,
        model_seconds: dict[str, float],
        unheard: dict[bytes, str],
    ) -> tuple[str, tuple | None, list[str]]:
        """A segment event -> (event, detections, frame contexts, sampling, (words, spoken
        mentions)), or why it cannot be. Audio that cannot be decoded goes to `unheard`."""
        segment, why = SEGMENTS.parse(value)
        if why:  # the live pass quarantined it: a reprocess pass passes over it
            return "segments", None, [] if self.deferred_pass else why
        if (segment.get("rendition") or "source") != "source":
            return "segments", None, []  # a copy made from an analysed segment (faces blurred)
        mode = self.schedule.mode_at(segment["stream_id"], segment["start_time"])
        # a mode removed from the configuration since it was set: the default's sampling
        sampling = self.samplings.get(mode) or self.samplings[self.schedule.default]
        if sampling.deferred != self.deferred_pass:
            return "segments", None, []  # the other pass's segment
        try:
            found, context = analyse_segment(
                segment["uri"],
                analyzers_for(self.models),
                sampling.sample_fps,
                self.batch_size,
                sampling.keyframes_only,
                sampling.refine_boundaries,
                self.segment_store,
                sampling.reference_frames_only,
                model_seconds=model_seconds,
            )
        except SegmentDecodeError as error:
            return "segments", None, [f"undecodable segment: {error}"]
        speech = ([], [])
        if self.models.speech is not None:
            try:
                speech = ModelTimer(model_seconds)("speech", self._listen, segment)
            except SegmentAudioError as error:
                unheard[value] = f"undecodable audio (pictures analysed): {error}"
        return "segments", (segment, found, context, sampling, speech), []

    def _listen(self, segment: dict) -> tuple[list, list]:
        """The words said in the segment and the brands named in them."""
        return segment_speech(
            segment["uri"],
            analyzers_for(self.models).speech,
            list(self.brand_names),
            previous_segment(segment),
            self.models.speech.overlap_s,
            self.segment_store,
        )

    def _where(self, segment: dict, frame_index: int, pts_s: float) -> dict:
        frame_time = segment["start_time"] + timedelta(seconds=pts_s)
        return {
            "stream_id": segment["stream_id"],
            "segment_id": segment["event_id"],
            "sequence": segment["sequence"],
            "frame_index": frame_index,
            "frame_time": frame_time,
            "pts_s": pts_s,
            "analysed_at": self.analysed_at,
            "frame_date": frame_time.date(),
        }

    def _frame_row(self, segment: dict, frame: FrameContext, models: str) -> dict:
        return {
            **self._where(segment, frame.frame_index, frame.pts_s),
            "person_count": frame.person_count,
            "brand_count": frame.brand_count,
            "brightness": frame.brightness,
            "motion": frame.motion,
            "interval_s": frame.interval_s,
            "refined": frame.refined,
            "scene_label": frame.scene_label,
            "safety_score": frame.safety_score,
            "models": models,
            "scene_scores": list(frame.scene_scores.items()),
            "scene_embedding": frame.embedding.tolist() if frame.embedding is not None else None,
        }

    def _detection_rows(self, segment: dict, found: list[DetectionRow]) -> list[dict]:
        rows, counter = [], {}
        for row in found:
            key = (row.frame_index, row.kind)
            counter[key] = counter.get(key, -1) + 1
            rows.append(
                {
                    "detection_id": f"{segment['event_id']}-{row.frame_index}-{row.kind}-"
                    f"{counter[key]}",
                    **self._where(segment, row.frame_index, row.pts_s),
                    "kind": row.kind,
                    "label": row.label,
                    "confidence": row.confidence,
                    "x1": row.x1,
                    "y1": row.y1,
                    "x2": row.x2,
                    "y2": row.y2,
                    "area_share": row.area_share,
                    "model_name": row.model_name,
                    "model_version": row.model_version,
                }
            )
        return rows

    def _text_rows(
        self, segment: dict, found: list[DetectionRow], context: list[FrameContext]
    ) -> tuple[list[dict], list[dict]]:
        """The lines read in the segment's text frames, and the brands they name outside
        the brand detector's boxes of the same brand."""
        lines, mentions = [], []
        logos: dict[int, list[tuple[str, tuple]]] = {}
        for row in found:
            if row.kind == "brand":
                logos.setdefault(row.frame_index, []).append(
                    (row.label, (row.x1, row.y1, row.x2, row.y2))
                )
        version = ocr.model_version()
        for frame, seconds in text_frames(context):
            where = self._where(segment, frame.frame_index, frame.pts_s)
            for number, line in enumerate(frame.text_lines):
                lines.append(
                    {
                        "line_id": f"{segment['event_id']}-{frame.frame_index}-text-{number}",
                        **where,
                        "text": line.text,
                        "confidence": line.confidence,
                        **dict(zip(("x1", "y1", "x2", "y2"), line.box, strict=True)),
                        "model_name": ocr.MODEL_NAME,
                        "model_version": version,
                    }
                )
            named = find_mentions(frame.text_lines, self.brand_names)
            for mention in outside_logos(named, logos.get(frame.frame_index, [])):
                mentions.append(
                    {
                        "mention_id": f"{segment['event_id']}-{frame.frame_index}-text-"
                        f"{mention.brand_id}",
                        "stream_id": segment["stream_id"],
                        "segment_id": segment["event_id"],
                        "sequence": segment["sequence"],
                        "kind": "text",
                        "brand_id": mention.brand_id,
                        "matched": mention.matched,
                        "source_text": mention.line,
                        "similarity": mention.similarity,
                        "confidence": mention.confidence,
                        "mention_time": where["frame_time"],
                        "duration_s": seconds,
                        "frame_index": frame.frame_index,
                        **dict(zip(("x1", "y1", "x2", "y2"), mention.box, strict=True)),
                        "model_name": ocr.MODEL_NAME,
                        "model_version": version,
                        "analysed_at": self.analysed_at,
                        "mention_date": where["frame_date"],
                    }
                )
        return lines, mentions

    def _word_rows(self, segment: dict, said: list) -> list[dict]:
        version = transcribe.model_version()
        rows = []
        for index, word in enumerate(said):
            at = segment["start_time"] + timedelta(seconds=word.start_s)
            rows.append(
                {
                    "word_id": f"{segment['event_id']}-w{index}",
                    "stream_id": segment["stream_id"],
                    "segment_id": segment["event_id"],
                    "sequence": segment["sequence"],
                    "word_index": index,
                    "word": word.text,
                    "probability": word.probability,
                    "start_s": word.start_s,
                    "end_s": word.end_s,
                    "word_time": at,
                    "model_name": transcribe.MODEL_NAME,
                    "model_version": version,
                    "analysed_at": self.analysed_at,
                    "word_date": at.date(),
                }
            )
        return rows

    def _spoken_rows(self, segment: dict, spoken: list, context: list[FrameContext]) -> list:
        """Brand names said, each on the analysed frame on screen when it was said (a name
        begun in the segment before: on the first)."""
        version = transcribe.model_version()
        rows = []
        for number, mention in enumerate(spoken):
            frame = frame_at(context, mention.start_s)
            at = segment["start_time"] + timedelta(seconds=mention.start_s)
            rows.append(
                {
                    "mention_id": f"{segment['event_id']}-{frame.frame_index}-speech-{number}",
                    "stream_id": segment["stream_id"],
                    "segment_id": segment["event_id"],
                    "sequence": segment["sequence"],
                    "kind": "speech",
                    "brand_id": mention.brand_id,
                    "matched": mention.matched,
                    "source_text": mention.sentence,
                    "similarity": mention.similarity,
                    "confidence": mention.confidence,
                    "mention_time": at,
                    "duration_s": round(mention.end_s - mention.start_s, 6),
                    "frame_index": frame.frame_index,
                    "model_name": transcribe.MODEL_NAME,
                    "model_version": version,
                    "analysed_at": self.analysed_at,
                    "mention_date": at.date(),
                }
            )
        return rows


def frame_at(context: list[FrameContext], offset_s: float) -> FrameContext:
    """The analysed frame showing at `offset_s` seconds into the segment (the first one
    before the segment starts, the last one after it ends); `context` in time order."""
    showing = [frame for frame in context if frame.pts_s <= offset_s]
    return showing[-1] if showing else context[0]


def previous_segment(segment: dict) -> str | None:
    """Where the stream's segment before this one is, by ingest's naming (`seg_%06d.ts`
    beside it); None for the first."""
    uri, sequence = segment["uri"], segment["sequence"]
    folder, _, name = uri.rpartition("/")
    if sequence <= 0 or name != SEGMENT_PATTERN % sequence:
        return None
    return f"{folder}/{SEGMENT_PATTERN % (sequence - 1)}"


def text_frames(context: list[FrameContext]) -> list[tuple[FrameContext, float]]:
    """The frames read for text (in time order) and the seconds each stands for: to the next
    one read, or to the segment's end (where the last frame's interval ends)."""
    read = [frame for frame in context if frame.text_lines is not None]
    if not read:  # text is not read (models.text.enabled: false)
        return []
    segment_end = max(frame.pts_s + frame.interval_s for frame in context)
    ends = [frame.pts_s for frame in read[1:]] + [segment_end]
    return [
        (frame, round(max(end - frame.pts_s, 0.0), 6))
        for frame, end in zip(read, ends, strict=True)
    ]


def frame_messages(
    frames: list[dict], detections: list[dict], mentions: Iterable[dict] = ()
) -> list[dict]:
    """One `detections`-topic message per analysed frame: its brands (an empty list says none
    was on screen, which ends an appearance downstream), the brands its text names, scene and
    safety."""
    named: dict[tuple[str, int], list[dict]] = {}
    for row in mentions:
        named.setdefault((row["segment_id"], row["frame_index"]), []).append(
            {
                "mention_id": row["mention_id"],
                "brand_id": row["brand_id"],
                "kind": row["kind"],
                "mention_time": row["mention_time"].isoformat(),
                "duration_s": row["duration_s"],
            }
        )
    brands: dict[tuple[str, int], list[dict]] = {}
    for row in detections:
        if row["kind"] == "brand":
            brands.setdefault((row["segment_id"], row["frame_index"]), []).append(
                {
                    "brand_id": row["label"],
                    "confidence": round(row["confidence"], 4),
                    "box": [round(row[k], 5) for k in ("x1", "y1", "x2", "y2")],
                    "area_share": round(row["area_share"], 6),
                    "detection_id": row["detection_id"],
                }
            )
    return [
        {
            "frame_id": f"{frame['segment_id']}-{frame['frame_index']}",
            "stream_id": frame["stream_id"],
            "segment_id": frame["segment_id"],
            "sequence": frame["sequence"],
            "frame_time": frame["frame_time"].isoformat(),
            "frame_epoch_ms": int(frame["frame_time"].timestamp() * 1000),
            "pts_s": frame["pts_s"],
            "interval_s": frame["interval_s"],
            "refined": frame["refined"],
            "brands": brands.get((frame["segment_id"], frame["frame_index"]), []),
            "mentions": named.get((frame["segment_id"], frame["frame_index"]), []),
            "person_count": frame["person_count"],
            "scene_label": frame["scene_label"],
            "safety_score": frame["safety_score"],
            "models": frame["models"],
        }
        for frame in frames
    ]


def live_fields(message: dict) -> dict[str, str]:
    """The `brandlake:live:<stream>` hash of a stream's latest frame message."""
    safety = message["safety_score"]
    return {
        "frame_time": message["frame_time"],
        "segment_id": message["segment_id"],
        "sequence": str(message["sequence"]),
        "brands": json.dumps(sorted({b["brand_id"] for b in message["brands"]})),
        "person_count": str(message["person_count"]),
        "scene_label": message["scene_label"] or "",
        "safety_score": "" if safety is None else f"{safety:.4f}",
        "models": message["models"],
        "updated_at": datetime.now(UTC).isoformat(),
    }


def latest_per_stream(messages: list[dict]) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for message in messages:
        if message["refined"]:  # brands only: the live state shows sampled frames
            continue
        known = latest.get(message["stream_id"])
        if known is None or message["frame_epoch_ms"] > known["frame_epoch_ms"]:
            latest[message["stream_id"]] = message
    return latest


# -- extract, transform, load ----------------------------------------------------------------


class ChampionWatch:
    """The models a batch uses: the brand detector follows the registry's alias, checked
    between batches every `models.refresh_seconds`, so a promoted champion takes over without
    a restart (every row names the version that produced it). A registry that cannot be
    reached keeps the current model and says so."""

    def __init__(self, settings: Settings, models: ModelSpec) -> None:
        self.settings, self.models = settings, models
        self.checked_at = time.monotonic()

    def models_for(self, batch_id: int) -> ModelSpec:
        current = self.models.brand
        refresh = self.settings.models.refresh_seconds
        if current is None or time.monotonic() - self.checked_at < refresh:
            return self.models
        self.checked_at = time.monotonic()
        try:
            version = champion_version(self.settings, current.name)
            if version is None or version == current.version:
                return self.models
            replacement = champion(self.settings, current.name, download=False)
        except Exception as err:  # the registry is down or slow: keep analysing
            log.warning("model registry unreachable (%s): %s stays in use", err, current.label)
            return self.models
        log.info(
            "%s: the %s alias moved from v%s to v%s; batch %d and later use v%s",
            current.name, replacement.alias, current.version, replacement.version, batch_id,
            replacement.version,
        )  # fmt: skip
        self.models = replace(self.models, brand=replacement)
        return self.models


def extract(spark: SparkSession, settings: Settings) -> DataFrame:
    """Segment events, read by up to `parallelism` tasks (a backlog on one Kafka partition is
    split by offsets, with no shuffle): only references move, never pixels."""
    return read_kafka_stream(
        spark, settings, ["segments"], min_partitions=analysing_tasks(spark, settings)
    )


def transform(
    settings: Settings,
    models: ModelSpec,
    schedule: ModeSchedule,
    analysed_at: datetime,
    deferred_pass: bool = False,
    model_seconds: Accumulator | None = None,
) -> AnalyseSegments:
    """How one batch of segment events becomes rows: frames decoded (as each stream's
    processing mode says), analysed and dropped on the executors, nothing sent anywhere."""
    return AnalyseSegments(
        models,
        samplings(settings),
        schedule,
        settings.jobs.frame_analysis.batch_size,
        analysed_at,
        landing_filesystem(settings),
        deferred_pass,
        model_seconds,
        tuple(brand_names(settings.catalog.brands)),
    )


def load(
    segments: DataFrame,
    analyse: AnalyseSegments,
    sink: DeltaSink,
    app_id: str,
    batch_id: int,
    clock: BatchClock | None = None,
) -> list[WriteResult]:
    """Delta first (one pass over the batch, one exactly-once commit per table), then, from
    what was committed, the frame messages to Kafka and the latest frames to Redis."""
    clock = clock or BatchClock()
    results = sink.write_split(segments, TABLES, analyse, app_id, batch_id, clock)
    with clock.phase("publish"):
        messages = committed_frame_messages(sink, app_id, batch_id)
        publish_frames(sink.settings, messages)
    with clock.phase("redis"):
        update_live_state(sink.settings, messages)
    for message in messages:
        metrics.FRAMES.labels(message["stream_id"]).inc()
    return results


FRAME_MESSAGE_COLUMNS = [
    "stream_id", "segment_id", "sequence", "frame_index", "frame_time", "pts_s", "interval_s",
    "refined", "person_count", "scene_label", "safety_score", "models",
]  # fmt: skip


def committed_frame_messages(sink: DeltaSink, app_id: str, batch_id: int) -> list[dict]:
    """The frame messages of the rows the batch committed (the same on a replay)."""
    # Not the 1280-float scene embeddings: the messages carry none.
    frames = sink.batch_rows(SEGMENT_CONTEXT, app_id, batch_id, FRAME_MESSAGE_COLUMNS)
    detections = sink.batch_rows(DETECTIONS, app_id, batch_id)
    mentions = sink.batch_rows(BRAND_MENTIONS, app_id, batch_id)
    return frame_messages(frames.to_pylist(), detections.to_pylist(), mentions.to_pylist())


def publish_frames(settings: Settings, messages: list[dict]) -> None:
    """One message per frame on the `detections` topic, keyed by stream; waits for the acks."""
    publish_json(settings, "detections", messages, "frame messages")


def update_live_state(settings: Settings, messages: list[dict]) -> None:
    """Each stream's latest frame to Redis, unless Redis already holds a newer one."""
    url, ttl = redis_url(settings), settings.jobs.frame_analysis.redis_ttl_s
    for latest in latest_per_stream(messages).values():
        key = LIVE_KEY.format(stream_id=latest["stream_id"])
        set_if_newer(url, key, latest["frame_epoch_ms"], live_fields(latest), ttl)


def analysing_tasks(spark: SparkSession, settings: Settings) -> int:
    """Segments analysed at once: `parallelism`, or Spark's default parallelism."""
    return settings.jobs.frame_analysis.parallelism or spark.sparkContext.defaultParallelism


class SecondsByModel(AccumulatorParam):
    """Sums {model: seconds} dicts from the tasks."""

    def zero(self, value: dict[str, float]) -> dict[str, float]:
        return {}

    def addInPlace(  # noqa: N802 - Spark's name
        self, total: dict[str, float], more: dict[str, float]
    ) -> dict[str, float]:
        for model, seconds in more.items():
            total[model] = total.get(model, 0.0) + seconds
        return total


class ModelSeconds:
    """Each model's time on the executors, gathered by a Spark accumulator and added to
    `brandlake_model_seconds_total` after each batch."""

    def __init__(self, spark: SparkSession) -> None:
        self.accumulator = spark.sparkContext.accumulator({}, SecondsByModel())
        self.reported: dict[str, float] = {}

    def report(self) -> None:
        for model, total in self.accumulator.value.items():
            metrics.MODEL_SECONDS.labels(model).inc(total - self.reported.get(model, 0.0))
            self.reported[model] = total


@dataclass(frozen=True)
class WarmUp:
    """What each warm-up task runs: load the models and run them once on a blank frame."""

    models: ModelSpec

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            analyzers_for(self.models).warm_up()
            yield pa.RecordBatch.from_pydict({"frames": [batch.num_rows]})


def warm_up(spark: SparkSession, models: ModelSpec, parallelism: int) -> None:
    """Load the models in the Python workers before the first segment arrives: loading takes
    longer than analysing a segment, and would make the first ones late.

    Spark keeps idle workers (`spark.python.worker.reuse`) and hands them out oldest first. A
    query task uses two at once (the Kafka read and the analysis), and either may be the one
    that analyses next time: two chained steps per task warm both.
    """
    tasks = spark.range(parallelism, numPartitions=parallelism)
    tasks.mapInArrow(WarmUp(models), "frames long").mapInArrow(
        WarmUp(models), "frames long"
    ).collect()


def torch_threads(spark: SparkSession, settings: Settings) -> int:
    """CPU threads per analysing task, so concurrent tasks do not oversubscribe the cores."""
    if not settings.spark.master.startswith("local"):
        return int(spark.conf.get("spark.task.cpus", "1"))
    return max(1, (os.cpu_count() or 1) // analysing_tasks(spark, settings))


def start(
    settings: Settings,
    spark: SparkSession,
    available_now: bool = False,
    deferred_stream: str | None = None,
) -> StreamingQuery:
    """The running query: extract -> transform -> load, one micro-batch at a time; with
    `deferred_stream`, the reprocess pass over that stream's deferred segments."""
    models = replace(resolve_models(settings), torch_threads=torch_threads(spark, settings))
    log.info("models: %s", models.describe())
    started = time.monotonic()
    warm_up(spark, models, analysing_tasks(spark, settings))
    log.info("models loaded in the Python workers (%.1f s)", time.monotonic() - started)
    segments = extract(spark, settings)
    if deferred_stream is not None:
        stream_id = F.get_json_object(F.col("value").cast("string"), "$.stream_id")
        segments = segments.where(stream_id == deferred_stream)
    sink = DeltaSink(settings)
    watch = ChampionWatch(settings, models)
    model_seconds = ModelSeconds(spark)

    def handle(batch: DataFrame, batch_id: int, query_id: str, clock: BatchClock) -> list:
        # modes set since the last batch apply from this one (by segment start time)
        schedule = read_schedule(sink.tables)
        models_now = watch.models_for(batch_id)
        analyse = transform(
            settings,
            models_now,
            schedule,
            datetime.now(UTC),
            deferred_stream is not None,
            model_seconds.accumulator,
        )
        results = load(batch, analyse, sink, query_id, batch_id, clock)
        model_seconds.report()
        sink.compact(SILVER_TABLES, batch_id, clock)
        return results

    return start_query(segments, settings, settings.jobs.frame_analysis, handle, available_now)


def run(settings: Settings, available_now: bool = False) -> None:
    """Run the job until stopped (Ctrl-C, SIGTERM) or, with `available_now`, caught up."""
    run_job("frame_analysis", start, settings, available_now, TABLES)


def reprocess(settings: Settings, stream_id: str) -> None:
    """Analyse `stream_id`'s deferred segments (those recorded while it was in a deferred
    mode, `batch`) from the landing area, then stop; rows, frame messages and live state go
    where the live job's go."""

    def start_deferred(settings: Settings, spark: SparkSession, available_now: bool):
        return start(settings, spark, available_now, deferred_stream=stream_id)

    run_job("frame_analysis", start_deferred, deferred_settings(settings, stream_id), True, TABLES)


def deferred_settings(settings: Settings, stream_id: str) -> Settings:
    """The reprocess pass's settings: its own query and checkpoint per stream, reading the
    `segments` topic from its start, so a rerun analyses only the segments deferred since, each
    once."""
    job = settings.jobs.frame_analysis
    own = job.model_copy(update={"query_name": f"{job.query_name}_deferred_{stream_id}"})
    return settings.model_copy(
        update={
            "jobs": settings.jobs.model_copy(update={"frame_analysis": own}),
            "kafka": settings.kafka.model_copy(update={"starting_offsets": "earliest"}),
        }
    )


def main(argv: list[str] | None = None) -> None:
    from jobs.entrypoint import streaming_job_main

    streaming_job_main(argv, "brandlake run frame-analysis", __doc__.split("\n")[0], run)


if __name__ == "__main__":
    main()
