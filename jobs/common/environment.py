"""Environment that must be set before Spark, Ultralytics, MLflow or Hugging Face import.

Nothing here may be downloaded at run time, and Spark's Python workers must use this interpreter.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def apply() -> None:
    """Set brandlake's environment defaults; values the user already set win."""
    home = Path(os.environ.get("BRANDLAKE_HOME", os.getcwd()))
    defaults = {
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "PYARROW_IGNORE_TIMEZONE": "1",
        "YOLO_OFFLINE": "1",
        "YOLO_AUTOINSTALL": "0",
        "YOLO_CONFIG_DIR": str(home / ".brandlake" / "ultralytics"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "HF_HUB_OFFLINE": "1",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
