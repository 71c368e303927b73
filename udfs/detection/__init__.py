"""Detectors: people (COCO-pretrained pose model) and brands (trained by brandlake)."""
