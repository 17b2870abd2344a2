"""KPI ingest throughput, beside a bare FastAPI endpoint and a bare aiokafka producer.

Run: ``.venv/bin/python -m tests.bench.bench_kpi_ingest`` (needs Kafka and the document store
of ``make up``, or KAFKA_BOOTSTRAP_SERVERS / MONGODB_URI). It is a command, not a test: it
prints a table and writes ``bench-results/kpi_ingest.json``; it takes well under 3 minutes.

Measured in one run, on the same machine, over loopback:
- bare FastAPI endpoint (uvicorn subprocess, reads the body, answers 202): requests/s;
- bare aiokafka producer (acks=all, idempotent, lz4, the same CloudEvents records): records/s;
- kpi_ingest single-point signed webhooks: requests/s (ratio to the bare endpoint,
  target 0.6, issue 13);
- kpi_ingest 1,000-point signed batches: points/s (ratio to the bare producer,
  target 0.8, issue 13).
The service runs ingest-only (KPI_CONSUMERS_ENABLED=false): the series projection is the same
code in a separate consumer deployment and would otherwise compete for the same two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi import FastAPI, Request, Response

REPO = Path(__file__).resolve().parents[2]
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MONGODB_URI = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")

# ------------------------------------------------------------------ the bare endpoint

bare_app = FastAPI()


@bare_app.post("/ingest", status_code=202)
async def bare_ingest(request: Request) -> Response:
    """The floor: read the body, answer 202, nothing else."""
    await request.body()
    return Response(b'{"status":"accepted"}', 202, media_type="application/json")


# ------------------------------------------------------------------ processes


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(
    app: str, port: int, env: dict[str, str], factory: bool = False
) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if factory:
        argv.append("--factory")
    return subprocess.Popen(
        argv,
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


async def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url, timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError(f"{url} did not become ready in {timeout:.0f}s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------ load


class RawClient:
    """A minimal HTTP/1.1 keep-alive client: the load generator when ``--client raw``.

    httpx spends ~2.5 ms of CPU per request on this kind of machine, so with it the client, not
    the server, is what gets measured; this one spends a few tens of microseconds.
    """

    def __init__(self, url: str) -> None:
        parsed = httpx.URL(url)
        self._host, self._port, self._path = parsed.host, parsed.port or 80, parsed.raw_path
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.reused = False  # True once a request went over this connection already

    async def post(self, body: bytes, headers: dict[str, str]) -> int:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._host, self._port)
        else:
            self.reused = True
        reader, writer = self._streams
        head = [f"POST {self._path.decode()} HTTP/1.1", f"host: {self._host}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head.append(f"content-length: {len(body)}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        response = await reader.readuntil(b"\r\n\r\n")
        status = int(response[9:12])
        length = 0
        for line in response.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        return status

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()


async def load(
    url: str,
    requests: Sequence[tuple[bytes, dict[str, str]]],
    *,
    concurrency: int,
    duration: float,
    warmup: float,
    ok: int = 202,
    unique: bool = True,
    client_kind: str = "raw",
) -> tuple[float, int, dict[int, int]]:
    """Closed-loop load for ``duration`` s after ``warmup`` s; (requests/s, requests, statuses)."""
    statuses: dict[int, int] = {}
    counted = 0
    cursor = 0
    start_at = time.monotonic() + warmup
    end_at = start_at + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal counted, cursor
            raw = RawClient(url) if client_kind == "raw" else None
            try:
                while time.monotonic() < end_at:
                    body, headers = requests[cursor % len(requests)]
                    cursor += 1
                    if raw is not None:
                        status = await raw.post(body, headers)
                    else:
                        status = (await client.post(url, content=body, headers=headers)).status_code
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == ok and time.monotonic() >= start_at:
                        counted += 1
            finally:
                if raw is not None:
                    raw.close()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    if unique and cursor > len(requests):
        raise RuntimeError("ran out of unique pre-signed requests; raise --prepared")
    return counted / duration, counted, statuses


def points_body(n: int, start: int, now: datetime) -> bytes:
    return orjson.dumps(
        {
            "datapoints": [
                {
                    "id": f"b{start + i}",
                    "metric": "active_users",
                    "value": float(i % 500),
                    "timestamp": (now - timedelta(seconds=i)).isoformat(),
                    "dimensions": {"product": "mobile", "region": "eu"},
                }
                for i in range(n)
            ]
        }
    )


def sign(secret: str, body: bytes) -> dict[str, str]:
    from shared.webhooks import signed_headers

    return {**signed_headers(secret, body), "content-type": "application/json"}


async def bare_producer(
    records: Sequence[tuple[bytes, bytes | None, list[tuple[str, bytes]]]],
    topic: str,
    *,
    batch: int,
    concurrency: int,
    duration: float,
    warmup: float,
) -> float:
    """records/s of AIOKafkaProducer alone, configured like EventProducer, same records."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=KAFKA,
        acks="all",
        enable_idempotence=True,
        compression_type="lz4",
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=15_000,
    )
    await producer.start()
    counted = 0
    start_at = time.monotonic() + warmup
    end_at = start_at + duration
    try:

        async def worker(offset: int) -> None:
            nonlocal counted
            n = offset
            while time.monotonic() < end_at:
                futures = []
                for _ in range(batch):
                    key, value, headers = records[n % len(records)]
                    n += 1
                    futures.append(
                        await producer.send(topic, value=value, key=key, headers=headers)
                    )
                for future in futures:
                    await future
                if time.monotonic() >= start_at:
                    counted += batch

        await asyncio.gather(*(worker(i * batch) for i in range(concurrency)))
    finally:
        await producer.stop()
    return counted / duration


def kafka_records(
    n: int, now: datetime
) -> list[tuple[bytes, bytes | None, list[tuple[str, bytes]]]]:
    from services.kpi_ingest.domain import DataPoint
    from services.kpi_ingest.events import datapoint_recorded
    from shared.events import deterministic_id, to_record

    return [
        to_record(
            datapoint_recorded(
                DataPoint(
                    id=deterministic_id("bench", str(i), "active_users"),
                    tenant="bench",
                    metric="active_users",
                    value=float(i % 500),
                    timestamp=now - timedelta(seconds=i),
                    dimensions={"product": "mobile", "region": "eu"},
                    source_id="src_bench",
                    source_event_id=f"b{i}",
                ),
                now,
            )
        )
        for i in range(n)
    ]


# ------------------------------------------------------------------ the run


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from services.kpi_ingest.config import KpiIngestSettings
    from shared.auth import issue_local_token
    from shared.events import topics
    from shared.messaging import ensure_topics

    run_id = uuid.uuid4().hex[:8]
    prefix = f"bench{run_id}."
    database = f"bench{run_id}_kpi_ingest"
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "MONGODB_URI": MONGODB_URI,
        "NORTHSTAR_TOPIC_PREFIX": prefix,
        "KPI_MONGODB_DATABASE": database,
        "KPI_CONSUMERS_ENABLED": "false",
        "KPI_RATE_LIMIT_PER_S": "1000000",
        "KPI_RATE_LIMIT_BURST": "1000000",
        "NORTHSTAR_LOG_LEVEL": "WARNING",
    }
    settings = KpiIngestSettings(
        kafka_bootstrap_servers=KAFKA, topic_prefix=prefix, mongodb_database=database
    )
    await ensure_topics(settings, [topics.KPI_DATAPOINTS])
    bare_port, kpi_port = free_port(), free_port()
    bare = serve("tests.bench.bench_kpi_ingest:bare_app", bare_port, env)
    kpi = serve("services.kpi_ingest.main:create_app", kpi_port, env, factory=True)
    results: dict[str, Any] = {}
    try:
        await wait_ready(f"http://127.0.0.1:{bare_port}/docs")
        await wait_ready(f"http://127.0.0.1:{kpi_port}/readyz")
        token = issue_local_token(settings, tenant="bench", sub="bench", roles=["admin"])
        async with httpx.AsyncClient() as client:
            created = await client.post(
                f"http://127.0.0.1:{kpi_port}/v1/sources",
                json={"name": "bench", "format": "generic", "mapping": {}},
                headers={"Authorization": f"Bearer {token}"},
            )
            created.raise_for_status()
        source_id, secret = created.json()["id"], created.json()["secret"]
        webhook = f"http://127.0.0.1:{kpi_port}/v1/webhooks/{source_id}"
        now = datetime.now(UTC)

        single_body = points_body(1, 0, now)
        bare_requests = [(single_body, {"content-type": "application/json"})]
        print(f"preparing {args.prepared} signed single-point requests ...", flush=True)
        singles = [(b := points_body(1, i, now), sign(secret, b)) for i in range(args.prepared)]
        batches = [
            (b := points_body(1000, 10_000_000 + i * 1000, now), sign(secret, b))
            for i in range(args.prepared_batches)
        ]

        def report(name: str, value: float, unit: str) -> None:
            print(f"  {name:<34} {value:>10,.0f} {unit}", flush=True)

        print("measuring ...", flush=True)
        rate, _, statuses = await load(
            f"http://127.0.0.1:{bare_port}/ingest",
            bare_requests,
            concurrency=args.concurrency,
            duration=args.duration,
            warmup=args.warmup,
            unique=False,
            client_kind=args.client,
        )
        results["bare_fastapi_rps"] = rate
        report("bare FastAPI endpoint", rate, "req/s")
        rate, _, statuses = await load(
            webhook,
            singles,
            concurrency=args.concurrency,
            duration=args.duration,
            warmup=args.warmup,
            client_kind=args.client,
        )
        results["single_point_rps"] = rate
        results["single_point_statuses"] = statuses
        report("kpi_ingest single-point webhook", rate, "req/s")
        rate, _, statuses = await load(
            webhook,
            batches,
            concurrency=args.batch_concurrency,
            duration=args.duration,
            warmup=args.warmup,
            client_kind=args.client,
        )
        results["batch_points_per_s"] = rate * 1000
        results["batch_statuses"] = statuses
        report("kpi_ingest 1,000-point batches", rate * 1000, "points/s")
        results["bare_producer_records_per_s"] = await bare_producer(
            kafka_records(20_000, now),
            settings.topic(topics.KPI_DATAPOINTS),
            batch=1000,
            concurrency=args.batch_concurrency,
            duration=args.duration,
            warmup=args.warmup,
        )
        report("bare aiokafka producer", results["bare_producer_records_per_s"], "records/s")
    finally:
        stop(bare)
        stop(kpi)
        await cleanup(settings, database)
    results["single_vs_bare_endpoint"] = results["single_point_rps"] / results["bare_fastapi_rps"]
    results["batch_vs_bare_producer"] = (
        results["batch_points_per_s"] / results["bare_producer_records_per_s"]
    )
    results["config"] = {
        "concurrency": args.concurrency,
        "batch_concurrency": args.batch_concurrency,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "cpus": os.cpu_count(),
        "consumers_enabled": False,
        "client": args.client,
        "measured_at": datetime.now(UTC).isoformat(),
    }
    return results


async def cleanup(settings: Any, database: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient
    from pymongo import AsyncMongoClient

    from shared.events import topics

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URI)
    try:
        await mongo.drop_database(database)
    finally:
        await mongo.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        await admin.delete_topics([settings.topic(topics.KPI_DATAPOINTS)])
    except Exception:
        pass  # the topic is prefixed by the run; leaving it behind harms nobody
    finally:
        await admin.close()


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str]] = [
        ("bare FastAPI endpoint", f"{results['bare_fastapi_rps']:,.0f} req/s", "", ""),
        (
            "bare aiokafka producer",
            f"{results['bare_producer_records_per_s']:,.0f} records/s",
            "",
            "",
        ),
        (
            "single-point webhook",
            f"{results['single_point_rps']:,.0f} req/s",
            f"{results['single_vs_bare_endpoint']:.2f} x bare endpoint",
            "target >= 0.60",
        ),
        (
            "1,000-point batches",
            f"{results['batch_points_per_s']:,.0f} points/s",
            f"{results['batch_vs_bare_producer']:.2f} x bare producer",
            "target >= 0.80",
        ),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    header = ("measure", "throughput", "ratio", "target")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def main(argv: Sequence[str] | None = None, runner: Callable[..., Any] = asyncio.run) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds measured per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--concurrency", type=int, default=32, help="single-request clients")
    parser.add_argument("--batch-concurrency", type=int, default=4, help="batch clients")
    parser.add_argument("--prepared", type=int, default=100_000, help="pre-signed single requests")
    parser.add_argument("--prepared-batches", type=int, default=1_000, help="pre-signed batches")
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator: a minimal keep-alive HTTP/1.1 client, or httpx",
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench-results" / "kpi_ingest.json")
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    results = runner(run(args))
    print()
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
