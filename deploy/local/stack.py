"""``make run`` / ``make up`` / ``make down`` / ``make test``: the whole stack on loopback.

With ``KAFKA_BOOTSTRAP_SERVERS`` or ``MONGODB_URI`` set, that server is used and not started.
Processes are remembered by pid files under ``.run/pids`` so ``down`` stops exactly them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from deploy.local.servers import (
    RUN_DIR,
    DocumentStore,
    KafkaBroker,
    Process,
    ServerError,
    docstore_backend,
    kafka_answers,
    mongo_answers,
    port_open,
    spawn,
    wait_until,
)

SERVICES = {
    "web": 8000,
    "people": 8001,
    "goals": 8002,
    "feedback": 8003,
    "kpi_ingest": 8004,
    "notifications": 8005,
    "reviews": 8006,
}


def start_servers(state_dir: Path) -> tuple[dict[str, str], list[Process]]:
    """Start Kafka and the document store unless given; return their env and what we started."""
    env: dict[str, str] = {}
    started: list[Process] = []
    kafka = KafkaBroker()
    store = DocumentStore()
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        env["KAFKA_BOOTSTRAP_SERVERS"] = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    elif kafka.process(state_dir).alive() and kafka_answers(kafka.bootstrap):
        env["KAFKA_BOOTSTRAP_SERVERS"] = kafka.bootstrap
    else:
        print(f"starting Apache Kafka on {kafka.bootstrap} ...", flush=True)
        started.append(kafka.start(state_dir))
        env["KAFKA_BOOTSTRAP_SERVERS"] = kafka.bootstrap
    if os.environ.get("MONGODB_URI"):
        env["MONGODB_URI"] = os.environ["MONGODB_URI"]
    elif store.process(state_dir).alive() and mongo_answers(store.uri):
        env["MONGODB_URI"] = store.uri
    else:
        print(f"starting the document store ({docstore_backend()}) on {store.uri} ...", flush=True)
        try:
            started.append(store.start(state_dir))
        except BaseException:
            stop(started)
            raise
        env["MONGODB_URI"] = store.uri
    return env, started


MAIL_PORT = 1025


def start_mail_sink(state_dir: Path, port: int = MAIL_PORT) -> dict[str, str]:
    """A real SMTP server (aiosmtpd) that keeps every message in a Maildir, for email to land."""
    if os.environ.get("NOTIFICATIONS_SMTP_HOST"):
        return {}
    maildir = state_dir / "mail"
    if not Process("mailsink", state_dir / "pids" / "mailsink.pid").alive():
        if port_open(port):
            raise ServerError(f"port {port} for the mail sink is already taken")
        proc = spawn(
            "mailsink",
            [
                sys.executable,
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                f"127.0.0.1:{port}",
                "-c",
                "aiosmtpd.handlers.Mailbox",
                str(maildir),
            ],
            state_dir=state_dir,
        )
        wait_until(lambda: port_open(port), f"mail sink on {port}", 15, proc)
    return {"NOTIFICATIONS_SMTP_HOST": "127.0.0.1", "NOTIFICATIONS_SMTP_PORT": str(port)}


def start_services(
    state_dir: Path, env: dict[str, str], ports: dict[str, int] | None = None
) -> list[Process]:
    """Run every service with ``northstar serve`` (and the mail sink); wait until all are ready."""
    ports = ports or SERVICES
    started: list[Process] = []
    env = {**env, **start_mail_sink(state_dir, ports.get("mailsink", MAIL_PORT))}
    env = {**web_env(ports), **env}
    northstar = str(Path(sys.executable).with_name("northstar"))
    for name, port in ports.items():
        if name == "mailsink":
            continue
        if port_open(port):
            raise ServerError(f"port {port} for {name} is already taken")
        started.append(
            spawn(
                name,
                [northstar, "serve", name, "--port", str(port)],
                state_dir=state_dir,
                env={"NORTHSTAR_LOG_LEVEL": "INFO", **env},
            )
        )
    services = [(name, port) for name, port in ports.items() if name != "mailsink"]
    for proc, (name, port) in zip(started, services, strict=True):
        wait_until(lambda p=port: ready(p), f"{name} on port {port}", 60, proc)
    return started


def web_env(ports: dict[str, int]) -> dict[str, str]:
    """Where the web app finds the APIs it calls, its own public address, where the people
    service finds the services a data export asks, and where the services check API keys."""
    env = {
        f"WEB_{name.upper()}_URL": f"http://127.0.0.1:{port}"
        for name, port in ports.items()
        if name not in ("web", "mailsink")
    }
    if "web" in ports:
        env["WEB_PUBLIC_URL"] = f"http://127.0.0.1:{ports['web']}"
        # the links in Northstar's emails open the web app's pages
        env["NOTIFICATIONS_APP_URL"] = env["WEB_PUBLIC_URL"]
    # the services check integrations' API keys at the people service
    if "people" in ports:
        env["NORTHSTAR_API_KEYS_URL"] = f"http://127.0.0.1:{ports['people']}"
    # a data export asks the services that hold person data, wherever they run
    holders = ("goals", "feedback", "notifications", "reviews", "web")
    env["PEOPLE_SERVICE_URLS"] = json.dumps(
        {name: f"http://127.0.0.1:{ports[name]}" for name in holders if name in ports}
    )
    return env


def ready(port: int) -> bool:
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200


def stop(processes: list[Process]) -> None:
    for proc in reversed(processes):
        proc.stop()


def all_processes(state_dir: Path) -> list[Process]:
    """Kafka, the document store (with PostgreSQL under FerretDB), the services, the mail sink."""
    pid_dir = state_dir / "pids"
    return [
        KafkaBroker().process(state_dir),
        DocumentStore().process(state_dir),
        *[Process(name, pid_dir / f"{name}.pid") for name in SERVICES],
        Process("mailsink", pid_dir / "mailsink.pid"),
    ]


def print_urls(env: dict[str, str]) -> None:
    print("\nNorthstar is up:")
    for name, port in SERVICES.items():
        if name == "web":
            print(f"  {name:<14} http://127.0.0.1:{port}   (sign in: northstar login-url)")
            continue
        print(f"  {name:<14} http://127.0.0.1:{port}   (docs: /docs, metrics: /metrics)")
    print(f"  {'kafka':<14} {env['KAFKA_BOOTSTRAP_SERVERS']}")
    print(f"  {'document store':<14} {env['MONGODB_URI']}")
    if not os.environ.get("NOTIFICATIONS_SMTP_HOST"):
        print(f"  {'mail sink':<14} smtp://127.0.0.1:{MAIL_PORT}  (messages in {RUN_DIR / 'mail'})")
    print(f"  logs in {RUN_DIR / 'logs'}\n", flush=True)


def cmd_up(_: argparse.Namespace) -> int:
    env = start_servers(RUN_DIR)[0]
    try:
        start_services(RUN_DIR, env)
    except BaseException:
        stop(all_processes(RUN_DIR))
        raise
    print_urls(env)
    return 0


def cmd_down(_: argparse.Namespace) -> int:
    stopped = [p.name for p in all_processes(RUN_DIR) if p.alive()]
    if (store := DocumentStore().process(RUN_DIR)).backend and store.backend.alive():
        stopped.insert(2, store.backend.name)
    stop(all_processes(RUN_DIR))
    print("stopped: " + (", ".join(stopped) or "nothing was running"))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    cmd_up(args)
    print("Ctrl-C stops everything.", flush=True)
    stopping = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stopping:
            dead = [p.name for p in all_processes(RUN_DIR)[2:-1] if not p.alive()]
            if dead:
                print(f"service exited: {', '.join(dead)}; stopping", flush=True)
                break
            time.sleep(0.5)
    finally:
        cmd_down(args)
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    """Start what the suite needs (or reuse a running stack), run pytest, stop what we started."""
    if _stack_running():
        state_dir = RUN_DIR  # reuse the servers of `make up`
    else:
        state_dir = RUN_DIR / "test"
        # a fresh broker and store for every run: no topics or data left from the last one
        shutil.rmtree(state_dir / "data", ignore_errors=True)
    env, started = start_servers(state_dir)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", *args.pytest_args], env={**os.environ, **env}
        )
        return result.returncode
    finally:
        stop(started)


def _stack_running() -> bool:
    return any(p.alive() for p in all_processes(RUN_DIR)[:2])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up").set_defaults(func=cmd_up)
    sub.add_parser("down").set_defaults(func=cmd_down)
    sub.add_parser("run").set_defaults(func=cmd_run)
    test = sub.add_parser("test", help="all after `test` goes to pytest: `test -x -k kpi`")
    test.set_defaults(func=cmd_test)
    # not argparse.REMAINDER: it refuses a first argument that starts with "-" (`test -x`)
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.pytest_args = rest
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return int(args.func(args))
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
