"""The senders: email over SMTP (Jinja2 text + HTML), and HTTP posts for Slack and webhooks."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.notifications.config import NotificationsSettings
from services.notifications.delivery import SendResult
from services.notifications.ssrf import UnsafeUrl, UrlGuard

TEMPLATES = Path(__file__).parent / "templates"


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class EmailSender:
    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings
        self._env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html", "html.j2"], default_for_string=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )

    def render(self, template: str, context: dict[str, Any]) -> tuple[str, str]:
        """The text and HTML parts of one email."""
        text = self._env.get_template(f"{template}.txt.j2").render(context)
        html = self._env.get_template(f"{template}.html.j2").render(context)
        return text, html

    def message(
        self, *, to: str, subject: str, text: str, html: str, message_id: str
    ) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self._settings.mail_from
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = format_datetime(datetime.now(UTC))
        # stable per delivery: a resend after a crash can be recognised as the same message
        msg["Message-ID"] = f"<{message_id}@northstar.notifications>"
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        return msg

    async def send(self, msg: EmailMessage) -> SendResult:
        s = self._settings
        try:
            await aiosmtplib.send(
                msg,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                use_tls=s.smtp_use_tls,
                start_tls=s.smtp_start_tls,
                timeout=s.smtp_timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return SendResult(False, error=f"recipient refused: {exc}", permanent=True)
        except aiosmtplib.SMTPResponseException as exc:
            # 5xx replies are permanent, 4xx ask to try later
            return SendResult(
                False, status_code=exc.code, error=exc.message, permanent=exc.code >= 500
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return SendResult(False, error=f"{type(exc).__name__}: {exc}")
        return SendResult(True, status_code=250)


class HttpSender:
    """POSTs to Slack and webhook receivers: SSRF-checked, no redirects followed."""

    def __init__(self, settings: NotificationsSettings, guard: UrlGuard) -> None:
        self._guard = guard
        self._client = httpx.AsyncClient(
            timeout=settings.http_timeout_s,
            follow_redirects=False,
            headers={"user-agent": "northstar-notifications/1"},
            # dial only what the guard resolved and allowed (DNS may change after the check)
            transport=guard.transport(),
            trust_env=False,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        try:
            await self._guard.check(url)  # again at send time: DNS may have changed
        except UnsafeUrl as exc:
            return SendResult(False, error=exc.detail, permanent=True)
        try:
            response = await self._client.post(
                url, content=body, headers={"content-type": "application/json", **headers}
            )
        except UnsafeUrl as exc:  # refused at connect time
            return SendResult(False, error=exc.detail, permanent=True)
        except httpx.HTTPError as exc:
            return SendResult(False, error=f"{type(exc).__name__}: {exc}")
        code = response.status_code
        if 200 <= code < 300:
            return SendResult(True, status_code=code)
        retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
        if code == 410:
            return SendResult(False, code, "the receiver answered 410 Gone", gone=True)
        if 300 <= code < 400:
            return SendResult(False, code, "redirects are not followed", permanent=True)
        return SendResult(False, code, f"the receiver answered {code}", retry_after=retry_after)
