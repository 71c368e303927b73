"""The promotion rule and the label gate, on hand-made numbers and label files."""

from __future__ import annotations

import pytest

from jobs.common.config import load_settings
from jobs.train.promotion import Evidence, GateError, decide, label_gate


def evidence(map50=0.9, precision=0.95, recall=0.95, error=0.05) -> Evidence:
    return Evidence(map50, precision, recall, error, {"fizzco": error})


def test_no_champion_means_promotion():
    assert decide(evidence(), None, load_settings()) == (True, ["no champion yet"])


def test_better_map50_and_no_worse_on_broadcasts_is_promoted():
    promoted, reasons = decide(evidence(map50=0.91), evidence(), load_settings())
    assert promoted and all(r.startswith("ok: ") for r in reasons)


@pytest.mark.parametrize(
    ("candidate", "worse"),
    [
        (evidence(map50=0.9), "mAP50 0.900 vs 0.900"),  # equal is not better
        (evidence(map50=0.95, precision=0.94), "broadcast precision 0.940 vs 0.950"),
        (evidence(map50=0.95, recall=0.90), "broadcast recall 0.900 vs 0.950"),
        (evidence(map50=0.95, error=0.08), "worst screen-seconds error 8.0% vs 5.0%"),
    ],
)
def test_a_candidate_worse_on_any_count_stays_a_candidate(candidate, worse):
    promoted, reasons = decide(candidate, evidence(), load_settings())
    assert not promoted
    assert [r for r in reasons if r.startswith("worse: ")] == [
        next(r for r in reasons if worse in r)
    ]


def write_dataset(folder, labels: dict[str, str]) -> str:
    (folder / "labels" / "train").mkdir(parents=True)
    for stem, text in labels.items():
        (folder / "labels" / "train" / f"{stem}.txt").write_text(text)
    (folder / "data.yaml").write_text("path: .\n")
    return str(folder / "data.yaml")


def test_the_label_gate_names_a_box_outside_the_image(tmp_path):
    settings = load_settings({"run_dir": str(tmp_path / "run")})
    brands = len(settings.catalog.brands)
    good = {f"i{c}": f"{c} 0.5 0.5 0.2 0.1\n" for c in range(brands)} | {"empty": ""}
    data_yaml = write_dataset(tmp_path / "ok", good)
    assert label_gate(settings, data_yaml, negative_share=0.15) == {
        "labels": brands, "images": brands + 1}  # fmt: skip
    broken = write_dataset(tmp_path / "broken", {**good, "bad": "0 0.95 0.5 0.2 0.1\n"})
    with pytest.raises(GateError, match=r"expect_column_values_to_be_between\(x2\).*\"bad\""):
        label_gate(settings, broken, negative_share=0.15)
