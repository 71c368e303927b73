"""The embedded services: real Apache Kafka and redis-server processes on loopback."""

from __future__ import annotations

import os
import socket

import pytest
import redis
from confluent_kafka import Consumer

from infra.local import services
from jobs.common.config import load_settings
from jobs.common.kafka import (
    BrokerUnavailableError,
    bootstrap_servers,
    check_broker,
    ensure_topics,
    watermarks,
)
from tests.support import produce


def test_stack_is_healthy_and_up_is_idempotent(stack):
    states = {s.name: s for s in services.status(stack)}
    assert {s.status for s in states.values()} == {"running"}
    assert all(s.host == "127.0.0.1" and s.port > 0 for s in states.values())
    pids = {name: s.pid for name, s in states.items()}
    messages = []
    services.up(stack, log=messages.append)
    assert {s.name: s.pid for s in services.status(stack)} == pids
    assert any("already running" in m for m in messages)
    host, port = services.endpoint(stack, "redis").split(":")
    assert redis.Redis(host=host, port=int(port)).ping()
    topics = check_broker({"bootstrap.servers": bootstrap_servers(stack)})
    assert {"segments", "impressions", "viewer_events"} <= topics


def test_a_taken_port_gives_a_clear_error(tmp_path, monkeypatch):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
        settings = load_settings({"services.broker.port": port, "services.redis.port": 0})
        with pytest.raises(
            services.ServiceError, match=f"127.0.0.1:{port} is already in use"
        ) as err:
            services.up(settings, log=lambda m: None)
        assert "BRANDLAKE_SERVICES__BROKER__PORT" in str(err.value)
    assert services.status(settings)[0].status == "stopped"


def test_missing_broker_jars_give_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    overrides = {"services.broker.port": 0, "services.redis.port": 0, "spark.jars_dir": "jars"}
    settings = load_settings(overrides)
    with pytest.raises(services.ServiceError, match=r"kafka_2.13.*run `make install`"):
        services.up(settings, log=lambda m: None)
    assert services.status(settings)[0].status == "stopped"


def test_the_broker_keeps_its_topics_and_records_across_a_restart(tmp_path, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    settings = load_settings({"services.broker.port": 0, "services.redis.port": 0})
    try:
        services.up(settings, log=lambda m: None)
        ensure_topics(services.resolve(settings))
        produce(services.resolve(settings), "segments", (b"s%d" % i for i in range(10)), 0)
        services.down(settings, log=lambda m: None)
        services.up(settings, log=lambda m: None)
        resolved = services.resolve(settings)
        consumer = Consumer({"bootstrap.servers": bootstrap_servers(resolved), "group.id": "t"})
        bounds = watermarks(consumer, [("segments", 0)], timeout_s=10)
        consumer.close()
        assert bounds[("segments", 0)] == (0, 10)
    finally:
        services.down(settings, log=lambda m: None)


def test_a_missing_broker_gives_a_clear_error():
    port = services.free_port()
    with pytest.raises(
        BrokerUnavailableError, match=f"cannot reach the Kafka broker at 127.0.0.1:{port}"
    ):
        check_broker({"bootstrap.servers": f"127.0.0.1:{port}"}, timeout_s=1)


def test_port_zero_needs_a_running_service(tmp_path, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    settings = services.resolve(load_settings({"services.broker.port": 0}))
    assert settings.kafka.bootstrap_servers == "embedded"
    with pytest.raises(BrokerUnavailableError, match="run `brandlake services up`"):
        bootstrap_servers(settings)
    with pytest.raises(services.ServiceError, match="run `brandlake services up`"):
        services.endpoint(settings, "broker")


def test_resolve_puts_the_running_services_addresses_in_the_settings(stack):
    resolved = services.resolve(load_settings())
    assert resolved.kafka.bootstrap_servers == services.endpoint(stack, "broker")
    assert resolved.redis.url == f"redis://{services.endpoint(stack, 'redis')}/0"
    configured = load_settings({"services.broker.port": 19092, "redis.url": "redis://r:1/0"})
    assert services.resolve(configured).kafka.bootstrap_servers == "127.0.0.1:19092"
    assert services.resolve(configured).redis.url == "redis://r:1/0"


def test_up_starts_services_and_creates_no_topics(tmp_path, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    settings = load_settings({"services.broker.port": 0, "services.redis.port": 0})
    services.up(settings, log=lambda m: None)
    try:
        topics = check_broker({"bootstrap.servers": services.endpoint(settings, "broker")})
        assert not {"segments", "impressions"} & topics
    finally:
        services.down(settings, log=lambda m: None)


def test_down_stops_what_up_started(tmp_path, monkeypatch):
    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    settings = load_settings({"services.broker.port": 0, "services.redis.port": 0})
    services.up(settings, log=lambda m: None)
    pids = [s.pid for s in services.status(settings)]
    services.down(settings, log=lambda m: None)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert {s.status for s in services.status(settings)} == {"stopped"}
    services.down(settings, log=lambda m: None)  # a second down is a no-op


def test_the_services_up_command_creates_the_topics(tmp_path, monkeypatch, capsys):
    from jobs.cli import main

    monkeypatch.setenv("BRANDLAKE_HOME", str(tmp_path))
    monkeypatch.setenv("BRANDLAKE_SERVICES__BROKER__PORT", "0")
    monkeypatch.setenv("BRANDLAKE_SERVICES__REDIS__PORT", "0")
    settings = load_settings()
    try:
        assert main(["services", "up"]) == 0
        topics = check_broker({"bootstrap.servers": services.endpoint(settings, "broker")})
        assert {t.name for t in settings.kafka.topics.values()} <= topics
        assert "broker: created topic segments" in capsys.readouterr().out
    finally:
        services.down(settings, log=lambda m: None)
