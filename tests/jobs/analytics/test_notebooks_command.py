"""`brandlake notebooks`: JupyterLab on loopback over notebooks/, behind its token, with the
project's kernel."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from urllib.error import HTTPError, URLError
from urllib.request import urlopen

from infra.local.services import free_port, terminate
from jobs.analytics.notebooks import override_env
from tests.support import BRANDLAKE


def test_jupyterlab_serves_the_notebooks_on_loopback_behind_a_token(tmp_path):
    port = free_port()
    log = tmp_path / "lab.log"
    with open(log, "wb") as out:
        lab = subprocess.Popen(
            [BRANDLAKE, "notebooks", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path)},
        )  # fmt: skip
    try:
        token = None
        deadline = time.monotonic() + 90
        while True:
            assert lab.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            found = re.search(r"token=([\w-]+) \(Ctrl-C", log.read_text())
            token = found.group(1) if found else None
            if token:
                try:
                    with urlopen(f"http://127.0.0.1:{port}/api/kernelspecs?token={token}") as r:
                        specs = json.load(r)
                    break
                except URLError:
                    pass
            time.sleep(0.5)
        assert "python3" in specs["kernelspecs"]
        url = f"http://127.0.0.1:{port}/api/contents?token={token}"
        with urlopen(url) as response:
            names = {item["name"] for item in json.load(response)["content"]}
        assert {"01_tour_of_the_lake.ipynb", "04_model_quality.ipynb"} <= names
        try:
            urlopen(f"http://127.0.0.1:{port}/api/contents")
            raise AssertionError("served without the token")
        except HTTPError as refused:
            assert refused.code == 403
    finally:
        terminate(lab.pid)


def test_set_options_reach_the_kernel_as_variables():
    assert override_env({"lake.root": "s3://bucket/lake", "kafka.max_offsets_per_trigger": 5}) == {
        "BRANDLAKE_LAKE__ROOT": "s3://bucket/lake",
        "BRANDLAKE_KAFKA__MAX_OFFSETS_PER_TRIGGER": "5",
    }
