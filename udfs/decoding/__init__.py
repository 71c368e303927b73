"""Decoding video segments into the frames the analyzers see."""
