"""Scoring brand detections against ground truth, on hand-built boxes."""

from __future__ import annotations

import pytest

from jobs.train.evaluate import iou, score_frames

A = (0.1, 0.1, 0.3, 0.3)
B = (0.6, 0.6, 0.8, 0.9)


def test_iou():
    assert iou(A, A) == pytest.approx(1.0)
    assert iou(A, B) == 0.0
    assert iou(A, (0.2, 0.1, 0.4, 0.3)) == pytest.approx(1 / 3)


def test_matches_count_once_per_truth_box_and_brand_must_agree():
    truth = {0: [("fizzco", 1.0, A), ("lumen", 1.0, B)], 1: [("fizzco", 1.0, A)]}
    detections = {
        0: [("fizzco", 0.9, A), ("fizzco", 0.8, A), ("velocity", 0.7, B)],  # a repeat, wrong brand
        1: [("fizzco", 0.6, (0.105, 0.1, 0.305, 0.3))],
        2: [],  # analysed, nothing there, nothing found
    }
    score = score_frames(detections, truth, 0.5)
    assert (score.true_positives, score.false_positives, score.false_negatives) == (2, 2, 1)
    assert score.precision == 0.5 and score.recall == pytest.approx(2 / 3) and score.frames == 3


def test_mostly_hidden_logos_are_neither_required_nor_punished():
    truth = {0: [("fizzco", 0.2, A), ("lumen", 0.9, B)]}
    assert score_frames({0: [("fizzco", 0.9, A)]}, truth, 0.5).false_positives == 0
    missed = score_frames({0: []}, truth, 0.5)
    assert (missed.false_negatives, missed.recall) == (1, 0.0)


def test_frames_that_were_not_analysed_are_not_scored():
    assert score_frames({}, {5: [("fizzco", 1.0, A)]}, 0.5).false_negatives == 0
