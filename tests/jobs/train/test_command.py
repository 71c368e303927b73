"""The trainers' shared command line: options reach the settings, and what is printed."""

from __future__ import annotations

import pytest

from jobs.train.command import run_trainer


def test_the_command_trains_with_its_settings_and_says_what_was_decided(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    seen = {}

    def train(settings) -> dict:
        seen["flag_share"] = settings.models.ivt_model.flag_share
        scores = {"candidate": {"recall": 0.97}, "champion": {"recall": 0.95}}
        reasons = ["rule recall 0.970 >= 0.950"]
        return {"scores": scores, "promote": True, "version": "4", "reasons": reasons}

    report = run_trainer(
        ["--set", "models.ivt_model.flag_share=0.01"], "ivt-model", "Train it.", train,
        lambda found: f"recall {found['recall']:.2f}",
    )  # fmt: skip
    assert seen == {"flag_share": 0.01} and report["version"] == "4"
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        "  candidate  recall 0.97",
        "  champion   recall 0.95",
        "ivt-model v4 promoted: rule recall 0.970 >= 0.950",
    ]
    with pytest.raises(SystemExit):
        run_trainer(["--nope"], "ivt-model", "Train it.", train, str)
