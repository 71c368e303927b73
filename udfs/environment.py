"""What the model libraries must see before they import: nothing is downloaded at run time.

Ultralytics, MLflow and Hugging Face read these at import. The model loaders in `udfs/` call
`offline_models()` before importing them, so a Spark Python worker on any machine is offline
whatever environment its executor was started with. Values already set win.
"""

from __future__ import annotations

import os
from pathlib import Path


def offline_models() -> None:
    """Set the model libraries' offline defaults; values the user already set win."""
    home = Path(os.environ.get("BRANDLAKE_HOME", os.getcwd()))
    defaults = {
        "YOLO_OFFLINE": "1",
        "YOLO_AUTOINSTALL": "0",
        "YOLO_CONFIG_DIR": str(home / ".brandlake" / "ultralytics"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "HF_HUB_OFFLINE": "1",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
