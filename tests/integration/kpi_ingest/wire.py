"""The wire between a sender and kpi_ingest: the app served over TCP (uvicorn), a tap that
records the bytes a sender writes, and a raw exchange that replays recorded bytes as they are."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI

from deploy.local.servers import free_port


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[int]:
    """``app`` (its lifespan already running) on a free loopback port; yields the port."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(15):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.05)
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@dataclass
class Tap:
    """A TCP relay to ``upstream`` that records each connection's bytes, both ways."""

    upstream: int
    sent: list[bytearray] = field(default_factory=list)  # sender -> server, per connection
    answered: list[bytearray] = field(default_factory=list)  # server -> sender
    port: int = 0

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        sent, answered = bytearray(), bytearray()
        self.sent.append(sent)
        self.answered.append(answered)

        async def pump(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, into: bytearray
        ) -> None:
            try:
                while chunk := await src.read(65536):
                    into.extend(chunk)
                    dst.write(chunk)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer, sent), pump(up_reader, writer, answered))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Tap]:
        server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = int(server.sockets[0].getsockname()[1])
        try:
            yield self
        finally:
            server.close()
            await server.wait_closed()


async def exchange(port: int, request: bytes) -> tuple[int, bytes]:
    """Write ``request`` as is on a new connection; the answer's status and body."""
    async with asyncio.timeout(15):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(request)
            await writer.drain()
            return await read_response(reader)
        finally:
            writer.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    return status_and_length(head)[0], await reader.readexactly(status_and_length(head)[1])


def status_and_length(head: bytes) -> tuple[int, int]:
    status = int(head.split(b" ", 2)[1])
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return status, int(length.group(1)) if length else 0


def response_of(raw: bytes) -> tuple[int, bytes]:
    """The status and body of one recorded HTTP/1.1 response."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    status, length = status_and_length(head + b"\r\n\r\n")
    return status, rest[:length]
