"""Real Kafka and a real MongoDB wire-protocol server on loopback, without Docker.

Kafka is Apache Kafka's own broker, resolved from Maven Central with ``mvn`` and run in KRaft
mode on the machine's JDK. The document store is ``mongod`` when one is on the PATH, else
FerretDB built from its Go module, on a private PostgreSQL server (Debian's ``postgresql``,
installed once with apt-get) or, with ``NORTHSTAR_DOCSTORE=sqlite``, on SQLite. Everything
downloaded or built is cached in ``$NORTHSTAR_CACHE`` (default ``~/.cache/northstar``) so a
second start takes seconds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

KAFKA_VERSION = "3.9.1"
FERRETDB_VERSION = "v1.24.2"

REPO = Path(__file__).resolve().parents[2]
RUN_DIR = Path(os.environ.get("NORTHSTAR_RUN_DIR", REPO / ".run"))


def cache_dir() -> Path:
    path = Path(os.environ.get("NORTHSTAR_CACHE", Path.home() / ".cache" / "northstar"))
    path.mkdir(parents=True, exist_ok=True)
    return path


class ServerError(RuntimeError):
    """A server could not be installed or did not become ready."""


# --------------------------------------------------------------------------- installation

_KAFKA_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>northstar.local</groupId><artifactId>kafka-broker</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <!-- the logging backend the 3.9 release tarball ships -->
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId>
      <version>1.2.25</version></dependency>
  </dependencies>
</project>
"""


def kafka_libs() -> Path:
    """The broker's jars, resolved once with Maven and cached."""
    home = cache_dir() / f"kafka-{KAFKA_VERSION}"
    libs = home / "libs"
    marker = home / ".complete"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None:
        raise ServerError("mvn is not on the PATH; it is needed once to fetch Kafka's jars")
    home.mkdir(parents=True, exist_ok=True)
    (home / "pom.xml").write_text(_KAFKA_POM.format(kafka=KAFKA_VERSION))
    print(f"resolving Apache Kafka {KAFKA_VERSION} with mvn (once) ...", flush=True)
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(home / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ],
        check=True,
    )
    marker.write_text(KAFKA_VERSION)
    return libs


FERRETDB_PATCH = Path(__file__).with_name("ferretdb.patch")
# FerretDB's live heap is small (tens of MB) and it allocates for every document it decodes:
# at Go's default (100) a CPU profile at 200 points/s spent ~20 % in the garbage collector.
# A collection when the heap has grown 4x instead of 2x trades a few tens of MB for that CPU
# (docs/bench-load.md).
FERRETDB_ENV = {"GOGC": "400"}


def ferretdb_binary() -> Path:
    """FerretDB built from its Go module with our patch applied, and cached.

    ``go install module@version`` builds a binary that panics at start because the module
    zip lacks the generated ``build/version/version.txt``; so we install from a copy of the
    same module source with that one file written, which is what FerretDB's docs ask for.
    ``ferretdb.patch`` (docs/architecture.md, "FerretDB 1.24 limits") makes the PostgreSQL
    backend use the ``_id`` index and compare-and-swap its updates; the cache is keyed by the
    patch's digest, so a changed patch builds anew.
    """
    digest = hashlib.sha256(FERRETDB_PATCH.read_bytes()).hexdigest()[:12]
    home = cache_dir() / f"ferretdb-{FERRETDB_VERSION}-{digest}"
    binary = home / "bin" / "ferretdb"
    if binary.exists():
        return binary
    if shutil.which("go") is None:
        raise ServerError("go is not on the PATH; it is needed once to build FerretDB")
    print(f"building FerretDB {FERRETDB_VERSION} with go install (once) ...", flush=True)
    module = f"github.com/FerretDB/FerretDB@{FERRETDB_VERSION}"
    out = subprocess.run(
        ["go", "mod", "download", "-json", module], check=True, capture_output=True, text=True
    )
    src_cache = Path(json.loads(out.stdout)["Dir"])
    src = home / "src"
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(src_cache, src)
    for path in src.rglob("*"):
        path.chmod(path.stat().st_mode | 0o200)
    (src / "build" / "version" / "version.txt").write_text(FERRETDB_VERSION + "\n")
    (src / "build" / "version" / "package.txt").write_text("northstar-local\n")
    subprocess.run(["git", "apply", str(FERRETDB_PATCH)], cwd=src, check=True)
    env = {**os.environ, "GOBIN": str(home / "bin"), "CGO_ENABLED": "0"}
    subprocess.run(["go", "install", "./cmd/ferretdb"], cwd=src, env=env, check=True)
    shutil.rmtree(src)
    return binary


# --------------------------------------------------------------------------- processes


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """A server process we started, remembered by a pid file so we stop exactly it."""

    name: str
    pid_file: Path

    @property
    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def alive(self) -> bool:
        pid = self.pid
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # a zombie child counts as gone
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except (FileNotFoundError, IndexError):
            return False
        return state != "Z"

    def stop(self, timeout: float = 20.0, sig: int = signal.SIGTERM) -> None:
        pid = self.pid
        if pid is not None and self.alive():
            os.kill(pid, sig)
            deadline = time.monotonic() + timeout
            while self.alive() and time.monotonic() < deadline:
                _reap(pid)
                time.sleep(0.1)
            if self.alive():
                os.kill(pid, signal.SIGKILL)
                while self.alive():
                    _reap(pid)
                    time.sleep(0.05)
            _reap(pid)
        self.pid_file.unlink(missing_ok=True)

    def kill(self) -> None:
        """``kill -9``: the crash a fault test needs."""
        self.stop(timeout=0, sig=signal.SIGKILL)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def spawn(
    name: str,
    argv: list[str],
    *,
    state_dir: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> Process:
    state_dir.mkdir(parents=True, exist_ok=True)
    log_dir = state_dir / "logs"
    log_dir.mkdir(exist_ok=True)
    pid_dir = state_dir / "pids"
    pid_dir.mkdir(exist_ok=True)
    with (log_dir / f"{name}.log").open("ab") as log:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
            user=user,
        )
    handle = Process(name, pid_dir / f"{name}.pid")
    handle.pid_file.write_text(str(proc.pid))
    return handle


def wait_until(check: object, what: str, timeout: float, process: Process | None = None) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and not process.alive():
            raise ServerError(f"{what} exited during start-up; see its log in {RUN_DIR / 'logs'}")
        try:
            if check():  # type: ignore[operator]
                return
        except Exception as exc:
            last_error = exc
        time.sleep(0.25)
    raise ServerError(f"{what} did not become ready in {timeout:.0f}s ({last_error})")


# --------------------------------------------------------------------------- Kafka

_LOG4J = """log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
"""


@dataclass(frozen=True)
class KafkaBroker:
    """One combined broker+controller in KRaft mode."""

    port: int = 9092
    controller_port: int = 9093
    name: str = "kafka"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def process(self, state_dir: Path) -> Process:
        return Process(self.name, state_dir / "pids" / f"{self.name}.pid")

    def start(self, state_dir: Path, timeout: float = 90.0) -> Process:
        libs = kafka_libs()
        data = state_dir / "data" / self.name
        data.mkdir(parents=True, exist_ok=True)
        props = data.parent / f"{self.name}.properties"
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={data / 'log'}",
                    "num.partitions=3",
                    "auto.create.topics.enable=false",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=10",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "",
                ]
            )
        )
        log4j = data.parent / "kafka-log4j.properties"
        log4j.write_text(_LOG4J)
        java = shutil.which("java") or "java"
        classpath = f"{libs}/*"
        # every test makes topics of its own: a broker kept up across several suites holds
        # thousands of partitions, and ran out of a 512 MB heap (it died mid-suite)
        jvm = ["-Xms128m", "-Xmx1536m", "-XX:+UseG1GC", f"-Dlog4j.configuration=file:{log4j}"]
        if not (data / "log" / "meta.properties").exists():
            cluster_id = _cluster_id()
            subprocess.run(
                [
                    java,
                    *jvm,
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(props),
                ],
                check=True,
                capture_output=True,
            )
        if port_open(self.port):
            raise ServerError(f"port {self.port} is already taken by another process")
        proc = spawn(
            self.name,
            [java, *jvm, "-cp", classpath, "kafka.Kafka", str(props)],
            state_dir=state_dir,
        )
        wait_until(
            lambda: port_open(self.port) and kafka_answers(self.bootstrap),
            f"Kafka on {self.bootstrap}",
            timeout,
            proc,
        )
        return proc


def _cluster_id() -> str:
    # Kafka's own generator also never starts an id with "-", which would read as an option
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def kafka_answers(bootstrap: str) -> bool:
    """True when the broker returns cluster metadata with itself as a live broker."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    async def check() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            cluster = await admin.describe_cluster()
            return bool(cluster.get("brokers"))
        finally:
            await admin.close()

    return asyncio.run(asyncio.wait_for(check(), 5))


# --------------------------------------------------------------------------- document store

DOCSTORES = ("postgresql", "sqlite", "mongod")


def docstore_backend() -> str:
    """``NORTHSTAR_DOCSTORE``: ``postgresql`` (the default), ``sqlite`` or ``mongod``.

    Unset, ``mongod`` is used when it is on the PATH, else FerretDB on PostgreSQL, which pushes
    the services' equality filters down to SQL (measured in ``tests/bench/bench_store.py``).
    """
    wanted = os.environ.get("NORTHSTAR_DOCSTORE", "").strip().lower()
    if not wanted:
        return "mongod" if shutil.which("mongod") else "postgresql"
    if wanted not in DOCSTORES:
        raise ServerError(f"NORTHSTAR_DOCSTORE={wanted!r}: choose one of {', '.join(DOCSTORES)}")
    return wanted


def postgres_bin_dir() -> Path:
    """The newest Debian PostgreSQL server; installed once with apt-get when missing."""

    def installed() -> list[Path]:
        found = Path("/usr/lib/postgresql").glob("*/bin/postgres")
        return sorted(found, key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)

    if not installed():
        if shutil.which("apt-get") is None:
            raise ServerError(
                "PostgreSQL is not installed and apt-get is missing; install PostgreSQL or "
                "set NORTHSTAR_DOCSTORE=sqlite"
            )
        print("installing Debian's postgresql with apt-get (once) ...", flush=True)
        subprocess.run(
            ["bash", str(REPO / "deploy" / "tools" / "install-postgresql.sh")], check=True
        )
    if not installed():
        raise ServerError("apt-get did not install a PostgreSQL server")
    return installed()[-1].parent


_PG_USER = "postgres"


def _pg_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, run it as the package's ``postgres`` user."""
    return _PG_USER if os.geteuid() == 0 else None


def _reachable_by_others(path: Path) -> bool:
    """Can another user (``postgres``) walk down to ``path``? Every parent needs ``o+x``."""
    return all(parent.stat().st_mode & 0o001 for parent in path.parents)


_PG_SPILL = Path("/var/tmp/northstar-pg")


def _pg_data_dir(data: Path) -> Path:
    """PostgreSQL's data directory for the store whose FerretDB state is ``data``.

    It lives beside FerretDB's state, unless we are root and the ``postgres`` user cannot
    reach that folder (a private temp dir): then under /var/tmp, with a note naming its owner
    so a later start removes the ones whose state folder is gone.
    """
    if _pg_user() is None or _reachable_by_others(data / "pg"):
        return data / "pg"
    _PG_SPILL.mkdir(parents=True, exist_ok=True)
    _PG_SPILL.chmod(0o755)
    for old in _PG_SPILL.iterdir():
        owner = old / "northstar-owner"
        if owner.exists() and not Path(owner.read_text()).exists():
            shutil.rmtree(old, ignore_errors=True)
    spill = _PG_SPILL / uuid.uuid5(uuid.NAMESPACE_URL, str(data)).hex[:16]
    spill.mkdir(exist_ok=True)
    (spill / "northstar-owner").write_text(str(data))
    return spill / "pg"


@dataclass
class StoreProcess(Process):
    """FerretDB and, on PostgreSQL, the server under it: stopped together, FerretDB first."""

    backend: Process | None = None

    def stop(self, timeout: float = 20.0, sig: int = signal.SIGTERM) -> None:
        Process.stop(self, timeout, sig)
        if self.backend is not None:
            # a fast shutdown (SIGINT) even after a crash of FerretDB: PostgreSQL is not the fault
            self.backend.stop(timeout, signal.SIGINT)

    def kill(self) -> None:
        """``kill -9`` of FerretDB (the store's crash); PostgreSQL is shut down cleanly."""
        self.stop(timeout=0, sig=signal.SIGKILL)


@dataclass(frozen=True)
class DocumentStore:
    """``mongod``, or FerretDB on PostgreSQL (default) or SQLite; see :func:`docstore_backend`."""

    port: int = 27017
    name: str = "docstore"

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def process(self, state_dir: Path) -> StoreProcess:
        pids = state_dir / "pids"
        backend = pids / f"{self.name}-pg.pid"
        return StoreProcess(
            self.name,
            pids / f"{self.name}.pid",
            Process(f"{self.name}-pg", backend) if backend.exists() else None,
        )

    def start(self, state_dir: Path, timeout: float = 60.0) -> StoreProcess:
        data = state_dir / "data" / self.name
        fresh = not data.exists()
        data.mkdir(parents=True, exist_ok=True)
        if port_open(self.port):
            raise ServerError(f"port {self.port} is already taken by another process")
        self.process(state_dir).stop()  # what a crash left behind (PostgreSQL under FerretDB)
        backend = docstore_backend()
        pg: Process | None = None
        ferretdb = [
            f"--state-dir={data}",
            f"--listen-addr=127.0.0.1:{self.port}",
            f"--debug-addr=127.0.0.1:{free_port()}",
            "--telemetry=disable",
            "--log-level=WARN",
        ]
        if backend == "mongod":
            mongod = shutil.which("mongod") or "mongod"
            argv = [
                mongod,
                "--bind_ip",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dbpath",
                str(data),
            ]
        elif backend == "sqlite":
            argv = [
                str(ferretdb_binary()),
                "--handler=sqlite",
                f"--sqlite-url=file:{data}/",
                *ferretdb,
            ]
        else:
            pg_port = free_port()
            pg = self._start_postgres(state_dir, data, pg_port, timeout, fresh=fresh)
            url = f"postgres://{_PG_USER}@127.0.0.1:{pg_port}/postgres"
            argv = [
                str(ferretdb_binary()),
                "--handler=postgresql",
                f"--postgresql-url={url}",
                *ferretdb,
            ]
        try:
            proc = spawn(self.name, argv, state_dir=state_dir, env=FERRETDB_ENV)
            handle = StoreProcess(self.name, proc.pid_file, pg)
            wait_until(
                lambda: mongo_answers(self.uri), f"document store on {self.uri}", timeout, proc
            )
        except BaseException:
            StoreProcess(self.name, state_dir / "pids" / f"{self.name}.pid", pg).stop()
            raise
        return handle

    def _start_postgres(
        self, state_dir: Path, data: Path, port: int, timeout: float, *, fresh: bool
    ) -> Process:
        """A private PostgreSQL on loopback (no Unix socket), tuned for a disposable dev store.

        ``synchronous_commit=off``: a commit does not wait for its WAL flush, so a crash of the
        machine may lose the last fraction of a second of writes but never corrupts the data.
        """
        bin_dir = postgres_bin_dir()
        pg_data = _pg_data_dir(data)
        user = _pg_user()
        if fresh or not (pg_data / "PG_VERSION").exists():
            # a new state folder means new data, also where PostgreSQL's lives elsewhere
            shutil.rmtree(pg_data, ignore_errors=True)
            pg_data.mkdir(parents=True)
            if user:
                shutil.chown(pg_data, user, user)
            initdb = [str(bin_dir / "initdb"), "-D", str(pg_data), "-U", _PG_USER, "-A", "trust"]
            initdb += ["-E", "UTF8", "--no-sync", "--no-instructions"]
            subprocess.run(initdb, check=True, capture_output=True, user=user)
        argv = [str(bin_dir / "postgres"), "-D", str(pg_data), "-p", str(port)]
        for setting in (
            "listen_addresses=127.0.0.1",
            "unix_socket_directories=",
            "synchronous_commit=off",
            "max_connections=200",
        ):
            argv += ["-c", setting]
        proc = spawn(f"{self.name}-pg", argv, state_dir=state_dir, user=user)
        wait_until(lambda: port_open(port), f"PostgreSQL on 127.0.0.1:{port}", timeout, proc)
        return proc


def mongo_answers(uri: str) -> bool:
    from pymongo import MongoClient

    client: MongoClient[dict[str, object]] = MongoClient(uri, serverSelectionTimeoutMS=1000)
    try:
        return bool(client.admin.command("ping").get("ok"))
    finally:
        client.close()
