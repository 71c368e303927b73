"""Configuration: the one place that reads `conf/`, applies overrides and validates.

Order: `conf/base.yaml`, then `conf/<env>.yaml` (env from `BRANDLAKE_ENV`, default `local`), then
`BRANDLAKE_<SECTION>__<KEY>=value` environment variables (values parsed as YAML scalars), then
explicit overrides from the command line (`--set delta.writer=delta-rs`). `${VAR}` in a YAML value
is replaced by the environment variable VAR. Every error names the key, the value and where it
came from.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# Not configuration keys: where things are, for the loader and the tests.
RESERVED_ENV = {"BRANDLAKE_ENV", "BRANDLAKE_HOME", "BRANDLAKE_CONF_DIR", "BRANDLAKE_TEST_MEDIA"}
ENV_PREFIX = "BRANDLAKE_"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(ValueError):
    """The configuration is invalid; the message says which key, which value and from where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TopicConf(_Strict):
    name: str = Field(min_length=1)
    partitions: int = Field(ge=1, le=10_000)


class KafkaConf(_Strict):
    bootstrap_servers: str = Field(min_length=1)
    starting_offsets: str = "earliest"
    max_offsets_per_trigger: int | None = Field(default=None, ge=1)
    poll_timeout_s: float = Field(default=10.0, gt=0)
    client: dict[str, str] = {}
    source_options: dict[str, str] = {}  # Spark's Kafka source only (Java client settings)
    topics: dict[str, TopicConf]

    @field_validator("starting_offsets")
    @classmethod
    def _offsets(cls, value: str) -> str:
        if value in ("earliest", "latest"):
            return value
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise ValueError('must be "earliest", "latest" or JSON like {"topic": {"0": 42}}')
        return value

    @field_validator("topics")
    @classmethod
    def _required_topics(cls, topics: dict[str, TopicConf]) -> dict[str, TopicConf]:
        missing = {"segments", "impressions", "viewer_events", "detections"} - topics.keys()
        if missing:
            raise ValueError(f"missing topics: {', '.join(sorted(missing))}")
        return topics


class ServiceConf(_Strict):
    port: int = Field(ge=0, le=65535)


class BrokerConf(ServiceConf):
    kafka_version: str = ""  # Apache Kafka's version (the jars `brandlake jars` fetches)
    heap: str = "512m"


class ServicesConf(_Strict):
    embedded: bool = False
    host: Literal["127.0.0.1", "localhost", "::1"] = "127.0.0.1"
    start_timeout_s: float = Field(default=30.0, gt=0)
    broker: BrokerConf = BrokerConf(port=19092)
    redis: ServiceConf = ServiceConf(port=16379)


def _as_text(value: object) -> object:
    """A mapping whose values the libraries take as text (Spark options, object-store options):
    `--set` and BRANDLAKE_* values read as YAML, so `4` and `true` arrive as a number and a
    boolean first."""
    if not isinstance(value, dict):
        return value
    return {k: _scalar_text(v) for k, v in value.items()}


def _scalar_text(value: object) -> object:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, int | float) else value  # others fail validation


class LakeConf(_Strict):
    root: str
    storage_options: dict[str, str] = {}
    checkpoint_root: str

    _storage_options_as_text = field_validator("storage_options", mode="before")(_as_text)


class RedisConf(_Strict):
    url: str


class SparkConf(_Strict):
    master: str
    app_name: str = "brandlake"
    shuffle_partitions: int = Field(default=4, ge=1)
    options: dict[str, str] = {}
    jars_dir: str = ""  # empty: <python environment>/share/brandlake-jars
    # `brandlake submit`: the executors' Python dependencies, a packed environment shipped
    # with the job, or a Python that has them on every executor (empty: this one)
    python_env_archive: str = ""
    executor_python: str = ""

    _options_as_text = field_validator("options", mode="before")(_as_text)


class StandaloneConf(_Strict):
    """`brandlake cluster up`: a Spark standalone cluster on this machine."""

    workers: int = Field(ge=1)
    cores_per_worker: int = Field(ge=1)
    memory_per_worker: str = Field(pattern=r"^\d+[mg]$")  # what each worker offers executors
    gpus_per_worker: int = Field(ge=0)  # found by gpu_discovery_script; 0: no GPU scheduling
    gpu_discovery_script: str = Field(min_length=1)  # relative to the repository, or absolute
    master_port: int = Field(ge=0, le=65535)  # 0: a free one
    start_timeout_s: float = Field(gt=0)


class DeltaConf(_Strict):
    writer: Literal["delta-rs", "spark"]
    compact_every_batches: int = Field(ge=0)
    compact_recent_days: int = Field(ge=0)


class IngestConf(_Strict):
    landing: str = Field(min_length=1)
    segment_seconds: float = Field(gt=0, le=60)
    listen: str = Field(pattern=r"^rtmps?://")
    min_free_mb: int = Field(ge=0)
    poll_interval_s: float = Field(gt=0)
    supervise_interval_s: float = Field(default=2.0, gt=0)
    retention_hours: float = Field(gt=0)
    x264_preset: Literal[
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"
    ] = "veryfast"


class SampleMediaConf(_Strict):
    seconds: float = Field(gt=0, le=3600)
    width: int = Field(ge=320, le=3840)
    height: int = Field(ge=240, le=2160)
    fps: int = Field(ge=1, le=120)
    seed: int
    scene_seconds: float = Field(gt=0)
    families: list[str] = Field(default=["photo"], min_length=1)  # jobs/sample_media/scenes.py
    distractors: int = Field(default=0, ge=0, le=8)  # made-up logos per scene, unlabelled
    crf: int = Field(default=20, ge=0, le=51)  # x264 quality: 20 near-lossless, 28 a broadcast's
    captions: float = Field(default=0.0, ge=0, le=1)  # share of scenes with a lower third
    speech_gap_s: float = Field(default=0.0, ge=0, le=600)  # between spoken sentences; 0: none


class TrainProfile(_Strict):
    images: int = Field(ge=10)
    image_size: int = Field(ge=64, le=1920, multiple_of=32)  # the square crop trained on
    frame_width: int = Field(default=640, ge=64, le=3840)  # the 16:9 frame it is cropped from
    epochs: int = Field(ge=1)
    batch: int = Field(ge=1)
    patience: int = Field(ge=1)


class SceneFamilies(_Strict):
    train: list[str] = Field(min_length=1)  # what training images show
    held_out: list[str] = Field(min_length=1)  # only evaluation broadcasts show these

    @model_validator(mode="after")
    def _disjoint(self) -> SceneFamilies:
        both = set(self.train) & set(self.held_out)
        if both:
            raise ValueError(f"train.families: {sorted(both)} both trained on and held out")
        return self


class PromotionRule(_Strict):
    """When the training DAG moves the alias to a candidate (`jobs/train/promotion.py`)."""

    min_map50_gain: float  # candidate mAP50 > champion's + this, on the same held-out images
    max_precision_drop: float = Field(ge=0)  # on the promotion broadcasts
    max_recall_drop: float = Field(ge=0)
    max_seconds_error_increase: float = Field(ge=0)  # worst per-brand |relative error|
    broadcast_seed: int  # a seed no test renders
    broadcast_seconds: float = Field(gt=0, le=600)  # per held-out scene family


class TrainConf(_Strict):
    work_dir: str
    seed: int
    profiles: dict[str, TrainProfile]
    families: SceneFamilies
    augmentation: dict[str, float] = {}  # Ultralytics augmentation arguments (fliplr, hsv_h, ...)
    promotion: PromotionRule


class DashboardConf(_Strict):
    address: str = "127.0.0.1"
    port: int = Field(default=8501, ge=0, le=65535)  # the Streamlit app; 0 = a free port
    media_port: int = Field(default=8502, ge=0, le=65535)  # player, HLS files, detections
    refresh_seconds: float = Field(default=3.0, gt=0)
    overlay_window_s: float = Field(default=20.0, gt=0)  # detections fetched per request
    media_threads: int = Field(default=8, ge=1, le=256)  # the media server's request threads
    push_detections: bool = True  # frames pushed to players as analysed (Server-Sent Events)
    # Needed to listen beyond loopback: the app and the media server then want it (?token=).
    auth_token: str = ""
    # Or: an authenticating reverse proxy in front, which alone can reach the address.
    trusted_proxy: bool = False


class StreamingJobConf(_Strict):
    query_name: str
    trigger_interval: str = Field(pattern=r"^\d+(\.\d+)? (milliseconds|seconds|minutes)$")
    # Spark settings for this job's session only, over spark.options (GPU executors for the
    # job that runs models, not for every job)
    spark_options: dict[str, str] = {}

    _spark_options_as_text = field_validator("spark_options", mode="before")(_as_text)


class FrameAnalysisConf(StreamingJobConf):
    sample_fps: float = Field(gt=0, le=60)
    keyframes_only: bool = False
    reference_frames_only: bool = True  # decode only the frames others refer to (the samples')
    refine_boundaries: bool = True  # analyse frames between samples where brands change
    batch_size: int = Field(ge=1, le=256)  # frames per model call
    parallelism: int = Field(ge=0)  # segments analysed at once; 0: Spark's default parallelism
    redis_ttl_s: int = Field(ge=1)  # live state of a stream that stops being analysed expires


class ExposureRevenueConf(StreamingJobConf):
    live_window_minutes: int = Field(ge=1, le=60)
    redis_ttl_s: int = Field(ge=1)


class PrivacyRenditionConf(StreamingJobConf):
    """The faces-blurred rendition (jobs/privacy_rendition.py, udfs/effects/)."""

    detect_every: int = Field(default=3, ge=1, le=30)  # frames between two looks for faces
    threshold: float = Field(default=0.4, gt=0, lt=1)  # CenterFace's score
    detect_side: int = Field(default=640, ge=128, le=3840)  # looked at this large (px)
    margin: float = Field(default=0.25, ge=0, le=1)  # of a face's size, blurred around it
    x264_preset: str = "ultrafast"


class JobsConf(_Strict):
    bronze_ingest: StreamingJobConf
    frame_analysis: FrameAnalysisConf
    exposure_revenue: ExposureRevenueConf
    privacy_rendition: PrivacyRenditionConf


class QualityConf(_Strict):
    size: float = Field(ge=0)
    position: float = Field(ge=0)
    clarity: float = Field(ge=0)
    duration: float = Field(ge=0)
    clutter: float = Field(ge=0)
    size_full_share: float = Field(gt=0, le=1)
    duration_full_s: float = Field(gt=0)


class InvalidTrafficConf(_Strict):
    """The rules that keep invalid traffic out of revenue and audience (jobs/audience/ivt.py)."""

    max_impressions_per_viewer_minute: int = Field(ge=1)
    max_impressions_per_ip_minute: int = Field(ge=1)
    min_click_delay_s: float = Field(ge=0)  # faster than this after the impression: not a human
    invalid_networks: list[str] = []  # network classes no audience comes from (data centres)
    learnt_score: bool = True  # also flag what the champion ivt-model finds anomalous


class AudienceConf(_Strict):
    # A session with no beacon for this long ended at its last one (a closed tab sends none)
    session_timeout_s: float = Field(gt=0, le=3600)
    rebuffer_band: float = Field(gt=0, lt=1)  # viewers stalled more than this share: poor QoE
    invalid_traffic: InvalidTrafficConf


class ExposureConf(_Strict):
    min_visible_share: float = Field(gt=0, le=1)
    min_view_seconds: float = Field(ge=0)  # an exposure impression: a viewer saw it this long
    gap_tolerance_s: float = Field(ge=0, le=60)
    max_frame_interval_s: float = Field(default=4.0, gt=0, le=60)  # the longest segment
    allowed_lateness_s: float = Field(ge=0)
    frame_max_age_s: float = Field(gt=0)
    lookback_minutes: int = Field(ge=1, le=1440)
    quality: QualityConf


class DetectorConf(_Strict):
    confidence: float = Field(gt=0, lt=1)
    image_size: int = Field(ge=64, le=3840, multiple_of=32)


class ColourCheckConf(_Strict):
    min_share: float = Field(ge=0, le=1)  # 0: no check
    max_chroma: float = Field(gt=0)  # CIELAB a*b* distance
    max_lightness: float = Field(gt=0)  # CIELAB L* distance


class BrandDetectorConf(DetectorConf):
    name: str = Field(min_length=1)  # registered model name; the job loads models:/<name>@<alias>
    enabled: bool = True
    colour_check: ColourCheckConf


class SceneConf(_Strict):
    labels: list[str] = Field(min_length=2)
    fallback: str  # the label of a frame close to none of the examples
    min_similarity: float = Field(ge=-1, le=1)
    examples: dict[str, list[str]]  # label -> images: file paths/globs, skimage:<name>, logo:<id>
    clip: str = ""  # CLIP weights (a file, or a hub name where reachable); empty: the shipped CNN
    clip_architecture: str = "ViT-B-32"  # an open_clip model name or a model config JSON path
    prompt: str = Field(default="a video frame of {label}", pattern=r"\{label\}")

    @field_validator("examples")
    @classmethod
    def _known_labels(cls, examples: dict[str, list[str]], info) -> dict[str, list[str]]:
        unknown = set(examples) - set(info.data.get("labels", []))
        if unknown:
            raise ValueError(f"examples for labels not in scene.labels: {sorted(unknown)}")
        return examples


class TextConf(_Strict):
    """On-screen text read by frame_analysis (udfs/text/): OCR on a subset of sampled frames."""

    enabled: bool = True
    sample_fps: float = Field(default=1.0, gt=0, le=30)  # frames read per second of video
    min_confidence: float = Field(default=0.6, ge=0, le=1)  # lines read less surely: left out
    max_side: int = Field(default=1280, ge=0, le=3840)  # frames read this large (0: as decoded)
    detect_side: int = Field(default=640, ge=0, le=3840)  # lines found on a copy this large


class SpeechConf(_Strict):
    """Words said in each segment (udfs/speech/): Whisper tiny.en; names and aliases as hotwords."""

    enabled: bool = True
    overlap_s: float = Field(default=1.5, ge=0, le=10)  # of the segment before, for context
    vad: bool = True  # transcribe only where the voice detector hears speech (no hallucinations)


class CtrModelConf(_Strict):
    name: str = Field(min_length=1)  # registered model name: models:/<name>@<alias>
    lookback_hours: float = Field(gt=0)  # impressions trained and tested on
    test_share: float = Field(gt=0, lt=1)  # the newest share: the time-ordered test split
    attribution_minutes: float = Field(gt=0)  # a click credits the viewer's latest impression
    embedding_dim: int = Field(ge=1, le=64)
    epochs: int = Field(ge=1)
    batch: int = Field(ge=1)
    learning_rate: float = Field(gt=0)


class IvtModelConf(_Strict):
    name: str = Field(min_length=1)  # registered model name: models:/<name>@<alias>
    lookback_hours: float = Field(gt=0)  # viewer-minutes trained and tested on
    test_share: float = Field(gt=0, lt=1)  # the newest minutes: the time-ordered test split
    flag_share: float = Field(gt=0, lt=0.5)  # of the viewer-minutes the rules pass
    trees: int = Field(ge=10, le=2000)
    min_viewer_minutes: int = Field(ge=10)  # fewer to train on: not enough data


class ModelsConf(_Strict):
    tracking_uri: str = ""  # MLflow; empty: SQLite under run_dir
    artifact_root: str = ""  # empty: <run_dir>/mlflow-artifacts
    alias: str = Field(min_length=1)
    refresh_seconds: float = Field(ge=0)  # frame_analysis asks the registry this often
    # What runs the detectors: auto (the device's fastest installed), torch, onnxruntime,
    # openvino, tensorrt (udfs/detection/backends.py)
    backend: Literal["auto", "torch", "onnxruntime", "openvino", "tensorrt"] = "auto"
    brand_detector: BrandDetectorConf
    person_detector: DetectorConf
    scene: SceneConf
    ctr_model: CtrModelConf
    ivt_model: IvtModelConf
    safety_enabled: bool = True
    text: TextConf = TextConf()
    speech: SpeechConf = SpeechConf()


class MarketConf(_Strict):
    """The bidders of the simulated ad market (jobs/auction/market.py): log-value effects."""

    bidder_behaviour: Literal["neutral", "shading", "raising"]
    shading: float = Field(ge=0, le=1)  # shading bidders keep this share of value above a floor
    raise_reach: float = Field(ge=0, le=1)  # raising bidders meet floors this far above value
    value_sigma: float = Field(gt=0, le=3)
    own_brand_on_screen: float
    low_safety: float  # safety score under yield_optimization.safety_bands[0]
    prime_time_sports: float
    prime_hours: list[int]
    device: dict[str, float] = {}
    geo: dict[str, float] = {}
    slot_type: dict[str, float] = {}


class ClickConf(_Strict):
    """The true click probability the simulator draws clicks from (logit effects); hidden from
    every model."""

    base_ctr: float = Field(gt=0, lt=1)
    own_brand_on_screen: float
    own_brand_overlay: float  # on top of the above for overlays
    sports: float
    device: dict[str, float] = {}
    slot_type: dict[str, float] = {}


BotKind = Literal["datacenter", "ad_stacker", "no_player", "fast_clicker", "click_farm"]


class PlayersConf(_Strict):
    """The viewers' players the simulator plays (jobs/audience/players.py): sessions, beacons and
    what the viewers experience."""

    mean_session_s: float = Field(gt=0)  # watch time from the first frame, exponential
    heartbeat_s: float = Field(gt=0)
    abandon_share: float = Field(ge=0, le=1)  # sessions that end before their first frame
    vanish_share: float = Field(ge=0, le=1)  # sessions that stop without an end beacon
    error_share: float = Field(ge=0, le=1)  # sessions a fatal player error ends
    startup_ms_median: float = Field(gt=0)
    startup_sigma: float = Field(ge=0, le=3)  # lognormal spread of startup times
    rebuffers_per_minute: float = Field(ge=0)
    rebuffer_ms_median: float = Field(gt=0)
    bitrate_switches_per_minute: float = Field(ge=0)
    delivery_delay_s: float = Field(ge=0, le=60)  # beacons reach Kafka up to this late
    cdns: dict[str, float] = Field(min_length=1)  # CDN -> share of sessions
    cdn_rebuffer_factor: dict[str, float] = {}  # CDN -> rebuffering rate multiplier
    bot_share: float = Field(ge=0, le=1)  # sessions that are invalid traffic, known to the truth
    bots: dict[BotKind, float] = {}
    bot_ads_per_minute: dict[BotKind, float] = {}  # ads a kind asks for beyond its share
    ad_seconds: float = Field(default=15, gt=0)  # an ad's length: ad_complete this long after
    ad_completion: float = Field(default=0.92, ge=0, le=1)  # ads watched to the end
    ad_abandon_on_stall: float = Field(default=0.6, ge=0, le=1)  # given up when playback stalls


class ModeConf(_Strict):
    """How frame_analysis samples a stream in one processing mode (unset: jobs.frame_analysis)."""

    sample_fps: float | None = Field(default=None, gt=0, le=60)
    keyframes_only: bool | None = None
    reference_frames_only: bool | None = None
    refine_boundaries: bool | None = None
    # true: the live job leaves the stream's segments to `brandlake streams reprocess`
    deferred: bool = False


class ProcessingConf(_Strict):
    """Per-stream processing modes, switched at run time (`brandlake streams mode`)."""

    default_mode: str = "standard"
    modes: dict[str, ModeConf] = {"standard": ModeConf()}

    @field_validator("modes")
    @classmethod
    def _has_default(cls, modes: dict[str, ModeConf], info) -> dict[str, ModeConf]:
        default = info.data.get("default_mode", "standard")
        if default not in modes:
            raise ValueError(f"default_mode {default!r} is not one of the modes {sorted(modes)}")
        return modes


class MetricsConf(_Strict):
    """Where each long-running process serves its Prometheus metrics (jobs/common/metrics.py)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)  # 0: a free port, published for discovery


class SimulateConf(_Strict):
    rate_per_s: float = Field(ge=0)
    seed: int
    bad_ratio: float = Field(ge=0, le=1)
    impression_share: float = Field(gt=0, le=1)  # share of events that are ad opportunities
    screen: Literal["simulated", "live"]  # what is on screen: simulated, or frame_analysis' Redis
    floors_refresh_s: float = Field(gt=0)  # how often the ad server rereads the floors
    market: MarketConf
    clicks: ClickConf
    players: PlayersConf


class YieldConf(_Strict):
    """Floors from the bid landscape and the experiment that proves them (jobs/floors/)."""

    holdout_share: float = Field(ge=0, lt=1)
    safety_bands: list[float] = Field(min_length=1)
    dimensions: list[
        Literal[
            "campaign_id",
            "stream_id",
            "slot_type",
            "device",
            "geo",
            "own_brand_on_screen",
            "safety_band",
        ]
    ] = Field(min_length=1)
    max_rules: int = Field(ge=1, le=10_000)
    max_fill_loss: float = Field(ge=0, le=1)  # fill-rate points a rule may lose
    min_auctions_per_rule: int = Field(ge=1)
    min_split_gain: float = Field(ge=0)  # a split must raise its segment's revenue this much
    lookback_hours: float = Field(gt=0)
    replay_share: float = Field(gt=0, lt=1)
    bootstrap_samples: int = Field(ge=100)

    @field_validator("safety_bands")
    @classmethod
    def _increasing(cls, bands: list[float]) -> list[float]:
        if bands != sorted(set(bands)) or not all(0 < b < 1 for b in bands):
            raise ValueError("safety_bands must increase strictly, each between 0 and 1")
        return bands


class AirflowConf(_Strict):
    owner: str = Field(min_length=1)
    retries: int = Field(ge=2)  # every task, with exponential backoff
    retry_delay_minutes: float = Field(gt=0)
    max_retry_delay_minutes: float = Field(gt=0)
    port: int = Field(ge=0, le=65535)  # `brandlake airflow up`: the UI and API; 0: a free one
    parallelism: int = Field(ge=1)  # task instances at once
    start_timeout_s: float = Field(gt=0)


class MaintenanceConf(_Strict):
    vacuum_retention_hours: float = Field(ge=0)
    retention_margin_hours: float = Field(ge=0)
    checkpoint_batches_to_retain: int = Field(ge=2)


class DataQualityConf(_Strict):
    lookback_hours: float = Field(gt=0)
    freshness_minutes: float = Field(gt=0)
    sample_rows: int = Field(ge=1, le=100)
    required_tables: list[str] = []


class Stream(_Strict):
    stream_id: str
    title: str
    audience: int = Field(ge=0)
    scene: str = "other"  # what the simulated screen shows when nothing live is known
    effects: list[Literal["face_blur"]] = []  # face_blur: a rendition with every face blurred


class Advertiser(_Strict):
    advertiser_id: str
    name: str


class Brand(_Strict):
    brand_id: str
    name: str
    advertiser_id: str
    color: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")
    # Other colours its logo appears in (a monochrome version, say): the brand detector's
    # colour check accepts a box in any of them.
    alternate_colors: list[Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]] = []
    # Other ways its name is written or said ("Fizz Co"): matched in read text like the name
    aliases: list[str] = []


class Campaign(_Strict):
    campaign_id: str
    advertiser_id: str
    brand_id: str
    floor_cpm: float = Field(ge=0)  # the static floor (the experiment's holdout arm)
    weight: float = Field(gt=0)
    # How the campaign's simulated bidder bids: CPM, or CPC (ranked at CPC x predicted CTR)
    bid_type: Literal["cpm", "cpc"] = "cpm"
    median_bid: float = Field(gt=0)  # CPM, or the CPC for cpc campaigns
    participation: float = Field(default=0.5, gt=0, le=1)  # share of auctions it bids in


class MentionValue(_Strict):
    """What a brand named on screen or out loud is worth (jobs/exposure/mentions.py)."""

    text_weight: float = Field(default=0.0, ge=0)  # x the stream's per-second rate, per second
    per_spoken_mention: float = Field(default=0.0, ge=0)  # each time a brand's name is said


class RateCard(_Strict):
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    default_per_second: float = Field(ge=0)
    per_stream: dict[str, float] = {}
    # What media value prices: screen seconds (x the per-second rate) or the viewers who saw the
    # brand (exposure impressions / 1000 x exposure_cpm); both weighted by the quality index
    pricing: Literal["screen_seconds", "exposure_impressions"] = "screen_seconds"
    exposure_cpm: float = Field(default=0.0, ge=0)
    mentions: MentionValue = MentionValue()


class Catalog(_Strict):
    streams: list[Stream] = Field(min_length=1)
    advertisers: list[Advertiser]
    brands: list[Brand] = Field(min_length=1)
    campaigns: list[Campaign] = Field(min_length=1)
    rate_card: RateCard
    slot_types: dict[str, float]
    devices: dict[str, float]
    geos: dict[str, float]

    def streams_with(self, effect: str) -> frozenset[str]:
        """The streams whose entry asks for `effect` (e.g. face_blur)."""
        return frozenset(s.stream_id for s in self.streams if effect in s.effects)


class Settings(_Strict):
    env: str
    home: str
    run_dir: str
    lake: LakeConf
    kafka: KafkaConf
    redis: RedisConf
    services: ServicesConf = ServicesConf()
    spark: SparkConf
    standalone: StandaloneConf
    delta: DeltaConf
    jobs: JobsConf
    ingest: IngestConf
    sample_media: SampleMediaConf
    train: TrainConf
    models: ModelsConf
    exposure: ExposureConf
    audience: AudienceConf
    simulate: SimulateConf
    yield_optimization: YieldConf
    data_quality: DataQualityConf
    airflow: AirflowConf
    maintenance: MaintenanceConf
    dashboard: DashboardConf = DashboardConf()
    metrics: MetricsConf = MetricsConf()
    processing: ProcessingConf = ProcessingConf()
    catalog: Catalog

    def table_uri(self, name: str) -> str:
        """Where table `layer.table` (e.g. `bronze.impressions`) lives in the lake."""
        return join_uri(self.lake.root, *name.split("."))

    def landing_uri(self, stream_id: str) -> str:
        """Where a stream's HLS playlist and segments land."""
        return join_uri(self.lake.root, self.ingest.landing, stream_id)

    def checkpoint_uri(self, query_name: str) -> str:
        return join_uri(self.lake.checkpoint_root, query_name)


def is_uri(path: str) -> bool:
    return "://" in path


def join_uri(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


def conf_dir() -> Path:
    override = os.environ.get("BRANDLAKE_CONF_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "conf"


def load_settings(overrides: dict[str, Any] | None = None, env: str | None = None) -> Settings:
    """Load and validate the configuration for `env` (default `$BRANDLAKE_ENV` or `local`)."""
    env = env or os.environ.get("BRANDLAKE_ENV", "local")
    directory = conf_dir()
    origins: dict[str, str] = {}
    merged: dict[str, Any] = {}
    for name in ("base.yaml", f"{env}.yaml"):
        path = directory / name
        if not path.exists():
            raise ConfigError(f"configuration file {path} not found (BRANDLAKE_ENV={env!r})")
        _merge(merged, _read_yaml(path), origins, f"conf/{name}")
    catalog = directory / "catalog.yaml"
    if not catalog.exists():
        raise ConfigError(
            f"brand catalog {catalog} not found: it lists the streams, brands, campaigns and the "
            "rate card (set BRANDLAKE_CONF_DIR to the folder that holds it)"
        )
    merged["catalog"] = _read_yaml(catalog)
    _record_origins(merged["catalog"], origins, "conf/catalog.yaml", "catalog")

    for key, value in sorted(os.environ.items()):
        if key.startswith(ENV_PREFIX) and key not in RESERVED_ENV:
            path = key[len(ENV_PREFIX) :].lower().split("__")
            _set_path(merged, path, _parse_scalar(value), origins, f"environment {key}")
    for dotted, value in (overrides or {}).items():
        _set_path(merged, dotted.split("."), value, origins, f"override {dotted}")

    merged = _substitute_vars(merged, origins, ())
    home = os.environ.get("BRANDLAKE_HOME", os.getcwd())
    merged["home"] = home
    origins["home"] = "BRANDLAKE_HOME or the current directory"
    for section, key in (
        ("lake", "root"),
        ("lake", "checkpoint_root"),
        (None, "run_dir"),
        ("train", "work_dir"),
        ("spark", "jars_dir"),
    ):
        holder = merged.get(section, {}) if section else merged
        if not isinstance(holder, dict):
            continue  # a section set to something else: validation below names it
        if isinstance(holder.get(key), str) and holder[key] and not is_uri(holder[key]):
            holder[key] = str(Path(home, holder[key]).resolve())
    try:
        return Settings.model_validate(merged)
    except ValidationError as err:
        raise ConfigError(_describe(err, merged, origins)) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML where a key given twice in one mapping is an error: PyYAML keeps the last silently,
    so an edited setting could be overridden a few lines further down."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(), Loader=_UniqueKeyLoader) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level")
    return data


def _parse_scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _merge(target: dict, source: dict, origins: dict[str, str], origin: str, prefix=()) -> None:
    for key, value in source.items():
        path = (*prefix, str(key))
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value, origins, origin, path)
        else:
            target[key] = value
            _record_origins(value, origins, origin, ".".join(path))


def _record_origins(value: Any, origins: dict[str, str], origin: str, dotted: str) -> None:
    origins[dotted] = origin
    if isinstance(value, dict):
        for key, child in value.items():
            _record_origins(child, origins, origin, f"{dotted}.{key}")


def _set_path(target: dict, path: list[str], value: Any, origins, origin: str) -> None:
    node = target
    for index, key in enumerate(path[:-1]):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            dotted = ".".join(path[: index + 1])
            raise ConfigError(f"{origin} sets {'.'.join(path)}, but {dotted} is not a section")
        node = child
    node[path[-1]] = value
    _record_origins(value, origins, origin, ".".join(path))


def _substitute_vars(value: Any, origins: dict[str, str], path: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute_vars(v, origins, (*path, str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute_vars(v, origins, (*path, str(i))) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:

        def lookup(match: re.Match) -> str:
            name = match.group(1)
            if name not in os.environ:
                dotted = ".".join(path)
                shown = "<redacted>" if looks_secret(dotted) else repr(value)
                raise ConfigError(
                    f"{dotted} = {shown} (from {origins.get(dotted, '?')}) needs the "
                    f"environment variable {name}, which is not set"
                )
            return os.environ[name]

        return _VAR.sub(lookup, value)
    return value


def _describe(err: ValidationError, merged: dict, origins: dict[str, str]) -> str:
    lines = ["invalid configuration:"]
    for problem in err.errors():
        dotted = ".".join(str(part) for part in problem["loc"])
        reason = "unknown key" if problem["type"] == "extra_forbidden" else problem["msg"]
        value = problem.get("input") if problem["type"] != "missing" else "<missing>"
        origin = _closest_origin(dotted, origins)
        shown = "<redacted>" if looks_secret(dotted) else repr(value)
        lines.append(f"  {dotted} = {shown} (from {origin}): {reason}")
    return "\n".join(lines)


_SECRET = re.compile(r"(^|_|-)(password|passwd|secret|token|key)s?($|_|-)", re.IGNORECASE)


def looks_secret(dotted: str) -> bool:
    """Whether a key's value may be a credential, never to be printed: the last part of the
    key names one (`lake.storage_options.aws_secret_access_key`, `dashboard.auth_token`)."""
    return bool(_SECRET.search(dotted.rsplit(".", 1)[-1]))


def _closest_origin(dotted: str, origins: dict[str, str]) -> str:
    parts = dotted.split(".")
    while parts:
        if ".".join(parts) in origins:
            return origins[".".join(parts)]
        parts.pop()
    return "defaults"


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """The `--set KEY=VALUE` option every command takes."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a configuration key, e.g. --set kafka.max_offsets_per_trigger=100000",
    )


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set wants KEY=VALUE, got {pair!r}")
        overrides[key.strip()] = _parse_scalar(value)
    return overrides
