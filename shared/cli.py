"""The ``northstar`` console script.

Core commands live here; a module adds its own by exposing ``register(subparsers)`` and being
listed in ``EXTENSIONS`` (``northstar scim-token`` from the people service, ``northstar dlq``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from shared.auth import ROLES, issue_local_token
from shared.config import CommonSettings

SERVICES = {
    "web": 8000,
    "people": 8001,
    "goals": 8002,
    "feedback": 8003,
    "kpi_ingest": 8004,
    "notifications": 8005,
    "reviews": 8006,
}

EXTENSIONS = ("services.people.commands", "services.web.commands", "shared.messaging.dlq")


def cmd_token(args: argparse.Namespace) -> int:
    settings = CommonSettings()
    if settings.environment != "local":
        print("error: local tokens are only issued in local mode", file=sys.stderr)
        return 2
    roles = args.role or ["employee"]
    unknown = sorted(set(roles) - ROLES)
    if unknown:
        print(
            f"error: unknown role(s) {', '.join(unknown)}; known: {', '.join(sorted(ROLES))}",
            file=sys.stderr,
        )
        return 2
    print(f"# JWT for {args.sub} in tenant {args.tenant} with roles {', '.join(roles)}")
    print(
        issue_local_token(settings, tenant=args.tenant, sub=args.sub, roles=roles, ttl_s=args.ttl)
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    port = args.port or SERVICES[args.service]
    host = args.host or os.environ.get("NORTHSTAR_HOST", "127.0.0.1")
    os.environ.setdefault("NORTHSTAR_SERVICE", args.service)
    uvicorn.run(
        f"services.{args.service}.main:create_app",
        factory=True,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=10,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="northstar", description="Northstar operations")
    sub = parser.add_subparsers(dest="command", required=True)

    token = sub.add_parser("token", help="print a JWT signed with the local secret")
    token.add_argument("--tenant", required=True)
    token.add_argument("--sub", required=True, help="the person id (their SCIM id)")
    token.add_argument("--role", action="append", help="repeat for several roles")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="lifetime in seconds")
    token.set_defaults(func=cmd_token)

    serve = sub.add_parser("serve", help="run one service with uvicorn")
    serve.add_argument("service", choices=sorted(SERVICES))
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    for module_name in EXTENSIONS:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
