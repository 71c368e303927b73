"""Where finished segments live: the local landing folder, or an object store.

ffmpeg always writes to a local folder; a store then makes each finished segment available at
the URI the `segments` event carries. Locally that is the file itself; with an object-store lake
(`lake.root: s3://...`) the segment is uploaded first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pyarrow.fs as pafs

from jobs.common import object_store
from jobs.common.config import Settings, is_uri
from jobs.common.object_store import StorageOptions


class SegmentStore(Protocol):
    def publish(self, local: Path, stream_id: str) -> str:
        """Make a finished segment available; returns the URI downstream jobs read it from."""


class LocalSegmentStore:
    """Segments stay where ffmpeg wrote them, in the landing folder."""

    def publish(self, local: Path, stream_id: str) -> str:
        return local.resolve().as_uri()


class ObjectSegmentStore:
    """Segments are copied to `<root>/<stream_id>/<file>` on an object store."""

    def __init__(self, root: str, options: StorageOptions = None) -> None:
        self.root = root.rstrip("/")
        self.filesystem, self.path = object_store.filesystem(self.root, options)

    def publish(self, local: Path, stream_id: str) -> str:
        target = f"{self.path}/{stream_id}/{local.name}"
        self.filesystem.create_dir(f"{self.path}/{stream_id}", recursive=True)
        pafs.copy_files(str(local), target, destination_filesystem=self.filesystem)
        return f"{self.root}/{stream_id}/{local.name}"


def segment_store(settings: Settings) -> SegmentStore:
    landing = settings.landing_uri("").rstrip("/")
    if not is_uri(landing):
        return LocalSegmentStore()
    return ObjectSegmentStore(landing, settings.lake.storage_options)


def landing_filesystem(settings: Settings) -> pafs.FileSystem | None:
    """The object store segments land on (with the lake's endpoint and credentials), for the
    jobs that read them; None when they are local files."""
    landing = settings.landing_uri("")
    if not is_uri(landing):
        return None
    return object_store.filesystem(landing, settings.lake.storage_options)[0]


def spool_dir(settings: Settings, stream_id: str) -> Path:
    """The local folder ffmpeg writes a stream's HLS to."""
    landing = settings.landing_uri(stream_id)
    if is_uri(landing):
        return Path(settings.run_dir) / "spool" / stream_id
    return Path(landing)
