"""The factorization machine learns a planted interaction the logistic baseline cannot, and the
metrics are what they say."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobs.ctr.features import FIELDS
from jobs.ctr.model import ClickModel, metrics, train_factorization_machine, train_logistic_baseline


def planted(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Clicks at 6 % on overlays with the ad's own brand on screen and on other slots without
    it, 1 % otherwise: neither slot nor own brand alone changes anything."""
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame({field: "x" for field in FIELDS}, index=range(n))
    rows["slot"] = rng.choice(["overlay", "midroll"], n)
    rows["own_brand"] = rng.choice(["yes", "no"], n)
    rows["geo"] = rng.choice(["US", "DE", "FR"], n)
    rows["brands"] = [[] for _ in range(n)]
    together = (rows["slot"] == "overlay") == (rows["own_brand"] == "yes")
    probability = np.where(together, 0.06, 0.01)
    return rows, (rng.random(n) < probability).astype(int), probability


def test_the_factorization_machine_learns_an_interaction_the_baseline_misses(tmp_path):
    rows, labels, _ = planted(40_000, seed=1)
    test, test_labels, truth = planted(10_000, seed=2)
    model = train_factorization_machine(rows, labels, dim=2, epochs=6, batch=1024, lr=0.02,
                                        seed=3)  # fmt: skip
    fm = metrics(model.predict(test), test_labels, test, truth)
    baseline = metrics(train_logistic_baseline(rows, labels)(test), test_labels, test)
    best = metrics(truth, test_labels, test)
    assert fm["auc"] > baseline["auc"] + 0.05
    assert fm["auc"] > best["auc"] - 0.01  # the true probabilities: the best any model does
    assert 0.9 < fm["calibration"] < 1.1
    for slot in test["slot"].unique():  # against the expected clicks: no sampling noise
        assert 0.9 < fm[f"calibration_expected_slot_{slot}"] < 1.1
    reloaded = ClickModel.load(model.save(tmp_path / "ctr-model.pt"))
    assert np.allclose(reloaded.predict(test), model.predict(test))


def test_metrics_by_hand():
    rows = pd.DataFrame({"slot": ["a", "a", "b", "b"], "device": ["tv"] * 4})
    found = metrics(np.array([0.9, 0.2, 0.6, 0.1]), np.array([1, 0, 1, 0]), rows)
    assert found["auc"] == 1.0
    assert found["calibration_slot_a"] == pytest.approx(1.1)
    assert found["calibration_slot_b"] == pytest.approx(0.7)
    assert found["calibration"] == pytest.approx(0.9)
    assert "calibration_expected_slot_a" not in found
    expected = metrics(np.array([0.9, 0.2, 0.6, 0.1]), np.array([1, 0, 1, 0]), rows,
                       expected=np.array([0.5, 0.5, 0.7, 0.0]))  # fmt: skip
    assert expected["calibration_expected_slot_a"] == pytest.approx(1.1)
    assert expected["calibration_expected_slot_b"] == pytest.approx(1.0)
    assert found["normalised_entropy"] < 1
