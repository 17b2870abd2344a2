"""The SSRF guard, webhook signatures, Retry-After and the email templates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from services.notifications.channels import (
    EmailSender,
    parse_retry_after,
)
from services.notifications.config import NotificationsSettings
from services.notifications.ssrf import UnsafeUrl, UrlGuard
from shared.webhooks import new_secret, signed_headers


def resolver(table: dict[str, list[str]]):
    async def resolve(host: str, port: int) -> list[str]:
        return table[host]

    return resolve


NAMES = {
    "hooks.example.com": ["93.184.215.14"],
    "sneaky.example.com": ["93.184.215.14", "10.0.0.7"],
    "internal.example.com": ["192.168.1.10"],
    "localhost": ["127.0.0.1", "::1"],
}


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1/x", "loopback"),
        ("http://10.0.0.1/x", "private"),
        ("http://172.16.5.4/x", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[::ffff:127.0.0.1]/x", "loopback"),
        ("http://localhost:8080/x", "loopback"),
        ("https://internal.example.com/x", "private"),
        ("https://sneaky.example.com/x", "private"),  # one bad address is enough
        ("http://0.0.0.0/x", "unspecified"),
    ],
)
async def test_private_loopback_and_link_local_targets_are_refused(url: str, kind: str) -> None:
    guard = UrlGuard([], resolver(NAMES))
    with pytest.raises(UnsafeUrl, match=kind):
        await guard.check(url)


async def test_public_hosts_pass() -> None:
    await UrlGuard([], resolver(NAMES)).check("https://hooks.example.com/services/T/B/X")


async def test_only_http_urls_with_a_host_are_accepted() -> None:
    guard = UrlGuard([], resolver(NAMES))
    for url in ("ftp://hooks.example.com/x", "file:///etc/passwd", "http:///x", "http://a:99999/"):
        with pytest.raises(UnsafeUrl):
            await guard.check(url)


async def test_the_allow_list_names_exact_host_and_port_or_networks() -> None:
    guard = UrlGuard(["127.0.0.1:8099", "10.20.0.0/16"], resolver(NAMES))
    await guard.check("http://127.0.0.1:8099/hook")
    await guard.check("http://10.20.3.4/hook")
    with pytest.raises(UnsafeUrl):
        await guard.check("http://127.0.0.1:8098/hook")
    with pytest.raises(UnsafeUrl):
        await guard.check("http://10.21.0.1/hook")


def test_signatures_verify_with_the_standardwebhooks_package() -> None:
    secret = new_secret()
    body = '{"id":"e1"}'
    headers = signed_headers(secret, body, msg_id="msg_1", at=datetime.now(UTC))
    assert Webhook(secret).verify(body, headers) == {"id": "e1"}


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Tue, 10 Mar 2026 08:01:00 GMT", now) == 60.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_emails_have_a_text_and_an_escaped_html_part() -> None:
    sender = EmailSender(NotificationsSettings())
    text, html = sender.render(
        "notification",
        {
            "name": "Ada",
            "title": "Goal <achieved>",
            "summary": "Well done",
            "reason": "you own the goal",
            "link": "http://x/inbox",
            "preferences_link": "http://x/preferences",
        },
    )
    assert "Hello Ada" in text
    assert "Goal &lt;achieved&gt;" in html
    msg = sender.message(to="ada@x.test", subject="Hi", text=text, html=html, message_id="d1")
    assert msg["Message-ID"] == "<d1@northstar.notifications>"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
