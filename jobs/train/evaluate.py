"""How well brand detections match a sample broadcast's ground truth: precision and recall at
an IoU threshold, frame by frame.

A truth box counts only when enough of the logo is visible (`min_visible` of its pixels in frame
and not covered: `exposure.min_visible_share`, the line the training labels use too): a
detector is not asked to find a logo that is 90 % hidden, and is not punished when it does. A
detection that matches such a "don't care" box is ignored, neither right nor wrong; one that
matches nothing is a false positive.
"""

from __future__ import annotations

from dataclasses import dataclass

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Score:
    true_positives: int
    false_positives: int
    false_negatives: int
    frames: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0


def iou(a: Box, b: Box) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def score_frames(
    detections: dict[int, list[tuple[str, float, Box]]],
    truth: dict[int, list[tuple[str, float, Box]]],
    min_visible: float,
    iou_threshold: float = 0.5,
) -> Score:
    """`detections`: frame -> [(brand, confidence, box)]; `truth`: frame -> [(brand, visible,
    box)], boxes normalised. Only frames in `detections` (the analysed ones) are scored."""
    tp = fp = fn = 0
    for frame, found in detections.items():
        wanted = truth.get(frame, [])
        matched: set[int] = set()
        for brand, _confidence, box in sorted(found, key=lambda d: -d[1]):
            best, best_iou = None, iou_threshold
            for index, (true_brand, _visible, true_box) in enumerate(wanted):
                overlap = iou(box, true_box)
                if true_brand == brand and index not in matched and overlap >= best_iou:
                    best, best_iou = index, overlap
            if best is None:
                fp += 1
            else:
                matched.add(best)
                tp += wanted[best][1] >= min_visible
        fn += sum(
            1
            for i, (_b, visible, _box) in enumerate(wanted)
            if visible >= min_visible and i not in matched
        )
    return Score(tp, fp, fn, len(detections))
