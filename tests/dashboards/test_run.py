"""`brandlake dashboard` refuses to listen beyond loopback with nothing guarding it."""

from __future__ import annotations

import pytest

from dashboards.run import check_exposure
from jobs.common.config import ConfigError, load_settings


@pytest.mark.parametrize("address", ["127.0.0.1", "localhost", "::1"])
def test_loopback_needs_no_token(address):
    check_exposure(load_settings({"dashboard.address": address}))


def test_any_other_address_needs_a_token_or_a_trusted_proxy():
    with pytest.raises(ConfigError, match=r"dashboard\.address = '0\.0\.0\.0' .*auth_token"):
        check_exposure(load_settings({"dashboard.address": "0.0.0.0"}))
    check_exposure(load_settings({"dashboard.address": "0.0.0.0", "dashboard.auth_token": "t"}))
    proxied = {"dashboard.address": "10.0.0.5", "dashboard.trusted_proxy": True}
    check_exposure(load_settings(proxied))


def test_the_command_refuses_with_the_message(monkeypatch, capsys):
    from jobs.cli import main

    monkeypatch.setenv("BRANDLAKE_DASHBOARD__ADDRESS", "0.0.0.0")
    assert main(["dashboard"]) == 2
    assert "no dashboard.auth_token is set" in capsys.readouterr().err
