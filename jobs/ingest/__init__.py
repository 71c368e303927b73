"""Video ingest: RTMP or a file -> HLS segments in the lake's landing area -> `segments` events.

    brandlake ingest rtmp --stream-id arena-live [--listen rtmp://127.0.0.1:1935/live/KEY]
    brandlake ingest file PATH --stream-id arena-live [--realtime]

ffmpeg cuts the video into HLS segments; the announcer publishes one `segments` event per
segment once the playlist lists it (ffmpeg writes segments and playlist through temporary files,
so a listed segment is complete) and records what it announced, so a restarted ingest continues
the sequence and announces nothing twice.
"""
