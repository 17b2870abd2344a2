"""A write the store refuses for its text (NUL under FerretDB over PostgreSQL) is a 422, not a 500.

Found by the schema fuzzer: a goal template whose title held a NUL character answered 500.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from pymongo.errors import OperationFailure

from shared.problems import install_problem_handlers

REFUSED = (
    "[msg_insert.go:168 handler.(*Handler).MsgInsert] ERROR: unsupported Unicode escape "
    "sequence (SQLSTATE 22P05)"
)


def app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app, {})

    @app.post("/things")
    async def write() -> None:
        raise error

    return app


async def post(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/things")


async def test_text_the_store_cannot_hold_is_a_422_problem() -> None:
    answer = await post(app_raising(OperationFailure(REFUSED)))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "/problems/unstorable-text"


async def test_any_other_store_failure_stays_an_internal_error() -> None:
    answer = await post(app_raising(OperationFailure("something else went wrong")))
    assert answer.status_code == 500
    assert answer.json()["type"] == "/problems/internal-error"
