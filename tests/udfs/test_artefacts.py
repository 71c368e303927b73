"""Where an executor keeps what it fetched and exported."""

from __future__ import annotations

from pathlib import Path

import pytest

from udfs.artefacts import exports_cache


@pytest.mark.parametrize(
    ("local_dirs", "expected"),
    [
        # a Python worker's: the application's block manager folder, gone when it ends
        ("/data/spark-1/blockmgr-5f2a,/other/blockmgr-9c", "/data/spark-1/brandlake-exports"),
        ("/mnt/fast", "/mnt/fast/brandlake-exports"),  # set by an operator
    ],
)
def test_exports_outlive_the_application(monkeypatch, local_dirs, expected):
    monkeypatch.setenv("SPARK_LOCAL_DIRS", local_dirs)
    assert exports_cache() == Path(expected)


def test_exports_go_to_the_temporary_folder_outside_spark(monkeypatch, tmp_path):
    monkeypatch.delenv("SPARK_LOCAL_DIRS", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    assert exports_cache() == tmp_path / "brandlake-exports"
