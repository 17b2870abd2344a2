"""``northstar login-url --tenant T --sub ID [--role R]``: a one-time sign-in link (local mode)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from urllib.parse import quote

from services.web.config import WebSettings
from services.web.sessions import Identity, SessionStore
from shared.auth import ROLES
from shared.mongo import create_client


async def issue_login_url(settings: WebSettings, identity: Identity, next_url: str = "") -> str:
    client = create_client(settings)
    try:
        store = SessionStore(
            client[settings.mongodb_database],
            ttl_s=settings.session_ttl_s,
            link_ttl_s=settings.login_link_ttl_s,
        )
        token = await store.issue_link(identity)
    finally:
        await client.close()
    url = f"{settings.public_url.rstrip('/')}/login/link/{token}"
    return url + (f"?next={quote(next_url, safe='/')}" if next_url else "")


def cmd_login_url(args: argparse.Namespace) -> int:
    settings = WebSettings()
    if settings.environment != "local":
        print("error: sign-in links are only issued in local mode", file=sys.stderr)
        return 2
    roles = args.role or ["employee"]
    unknown = sorted(set(roles) - ROLES)
    if unknown:
        print(f"error: unknown role(s) {', '.join(unknown)}", file=sys.stderr)
        return 2
    identity = Identity(tenant=args.tenant, person_id=args.sub, roles=roles)
    url = asyncio.run(issue_login_url(settings, identity, args.next or ""))
    minutes = max(1, settings.login_link_ttl_s // 60)
    print(f"# one-time sign-in for {args.sub} in tenant {args.tenant} (valid {minutes} min)")
    print(url)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "login-url", help="print a one-time URL that signs a browser in (local mode)"
    )
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--sub", required=True, help="the person id (their SCIM id)")
    parser.add_argument("--role", action="append", help="repeat for several roles")
    parser.add_argument("--next", help="the page to open after signing in, e.g. /goals/ID")
    parser.set_defaults(func=cmd_login_url)
