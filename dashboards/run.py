"""`brandlake dashboard`: the Streamlit app on `dashboard.address`:`dashboard.port`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from jobs.common.config import Settings

APP = Path(__file__).with_name("app.py")


def command(settings: Settings) -> list[str]:
    conf = settings.dashboard
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", conf.address,
        "--server.port", str(conf.port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
    ]  # fmt: skip


def environment(overrides: dict[str, object]) -> dict[str, str]:
    """This process's environment with `--set` overrides as BRANDLAKE_* variables, which the
    app's own `load_settings()` reads."""
    env = dict(os.environ)
    for key, value in overrides.items():
        env["BRANDLAKE_" + key.upper().replace(".", "__")] = str(value)
    return env


def main(settings: Settings, overrides: dict[str, object]) -> None:
    conf = settings.dashboard
    print(f"brandlake dashboard on http://{conf.address}:{conf.port} (Ctrl-C stops it)", flush=True)
    cmd = command(settings)
    os.execve(cmd[0], cmd, environment(overrides))
