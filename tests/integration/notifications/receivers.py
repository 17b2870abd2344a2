"""Real receivers started by the tests: an SMTP sink (aiosmtpd) and a webhook endpoint that
verifies Standard Webhooks signatures with the ``standardwebhooks`` package.
"""

from __future__ import annotations

import email
import socket
import threading
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from standardwebhooks import Webhook, WebhookVerificationError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Collect:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content)
        message["X-Rcpt-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"


class SmtpSink:
    def __init__(self) -> None:
        self.port = free_port()
        self._handler = _Collect()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[Message]:
        return self._handler.messages

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


def text_part(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no text/plain part")


def has_html_part(message: Message) -> bool:
    return any(part.get_content_type() == "text/html" for part in message.walk())


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: Any = None
    error: str | None = None


@dataclass
class WebhookReceiver:
    """Answers with the next scripted status (200 when the script is empty)."""

    secrets: dict[str, str] = field(default_factory=dict)  # path -> whsec_ secret
    script: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    port: int = 0

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                item = Received(self.path, headers, body)
                secret = receiver.secrets.get(self.path)
                if secret:
                    try:
                        item.verified = Webhook(secret).verify(body, headers)
                    except WebhookVerificationError as exc:
                        item.error = str(exc)
                receiver.received.append(item)
                status, extra = 200, {}
                queue = receiver.script.get(self.path)
                if queue:
                    status, extra = queue.pop(0)
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]
