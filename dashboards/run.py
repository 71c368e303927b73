"""`brandlake dashboard`: the Streamlit app on `dashboard.address`:`dashboard.port`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from jobs.common.config import ConfigError, Settings

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


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def check_exposure(settings: Settings) -> None:
    """Refuse to listen beyond loopback with nothing guarding the door."""
    conf = settings.dashboard
    if conf.address in LOOPBACK or conf.address.startswith("127.") or conf.auth_token:
        return
    if not conf.trusted_proxy:
        raise ConfigError(
            f"dashboard.address = {conf.address!r} accepts connections from other machines, "
            "and no dashboard.auth_token is set. Set a token (BRANDLAKE_DASHBOARD__AUTH_TOKEN; "
            "users then open the dashboard with ?token=...), or, when an authenticating "
            "reverse proxy is the only way to reach this address, set dashboard.trusted_proxy "
            "to true."
        )


def main(settings: Settings, overrides: dict[str, object]) -> None:
    check_exposure(settings)
    conf = settings.dashboard
    print(f"brandlake dashboard on http://{conf.address}:{conf.port} (Ctrl-C stops it)", flush=True)
    cmd = command(settings)
    os.execve(cmd[0], cmd, environment(overrides))
