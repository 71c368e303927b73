"""Environment that must be set before Spark, Ultralytics, MLflow or Hugging Face import.

Called explicitly by every entry point (the `brandlake` command, `python -m jobs.<job>`, the
dashboard, the tests' conftest) before anything else imports: nothing here may be downloaded
at run time, and Spark's Python workers must use this interpreter. Importing this module
changes nothing.
"""

from __future__ import annotations

import os
import sys

from udfs.environment import offline_models


def apply() -> None:
    """Set brandlake's environment defaults; values the user already set win."""
    defaults = {
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "PYARROW_IGNORE_TIMEZONE": "1",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    offline_models()
