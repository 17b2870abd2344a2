"""``northstar scim-token --tenant T``: write a SCIM token into the people database."""

from __future__ import annotations

import argparse
import asyncio

from services.people.config import PeopleSettings
from services.people.repository import PeopleRepository
from services.people.tokens import ScimTokens
from shared.mongo import create_client


async def _issue(tenant: str, name: str | None) -> str:
    settings = PeopleSettings()
    client = create_client(settings)
    try:
        tokens = ScimTokens(PeopleRepository(client[settings.mongodb_database]))
        issued = await tokens.issue(tenant, created_by="cli", name=name)
    finally:
        await client.close()
    return issued.token


def cmd_scim_token(args: argparse.Namespace) -> int:
    token = asyncio.run(_issue(args.tenant, args.name))
    print(f"# SCIM bearer token for tenant {args.tenant} (shown once; revoke with the API)")
    print(token)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "scim-token", help="create a SCIM bearer token for a tenant and print it"
    )
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--name", help="a label, e.g. okta-production")
    parser.set_defaults(func=cmd_scim_token)
