"""The docs say only what exists: every relative link resolves, and the README stays a front door.

A link to a file must name a file of the repository; a link with an anchor must name a heading of
that file, slugged as GitHub does. The alert rules' runbook annotations are held to the same rule,
since on-call people follow them.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
PAGES = sorted([README, *(REPO / "docs").glob("*.md")])
README_MAX_LINES = 250

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# [text](target) or [text](target "title"); images too. Autolinks and reference links are unused.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"`[^`]*`")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:...


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading (github-slugger): lowercase, punctuation dropped."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text stays
    kept = "".join(ch for ch in text.lower() if ch in " -_" or unicodedata.category(ch)[0] in "LNM")
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for line in prose_lines(page.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def links(page: Path) -> list[str]:
    found = []
    for line in prose_lines(page.read_text(encoding="utf-8")):
        found.extend(LINK.findall(INLINE_CODE.sub("", line)))
    return [target for target in found if not EXTERNAL.match(target)]


def broken(source: Path, target: str) -> str | None:
    """Why ``target``, as written in ``source``, does not resolve; None when it does."""
    path_part, _, anchor = target.partition("#")
    resolved = (source.parent / path_part).resolve() if path_part else source
    if REPO not in resolved.parents and resolved != REPO:
        return f"{target}: outside the repository"
    if not resolved.exists():
        return f"{target}: no such file"
    if anchor:
        if resolved.suffix != ".md":
            return f"{target}: an anchor into a file that is not markdown"
        if anchor not in anchors(resolved):
            return f"{target}: no heading #{anchor} in {resolved.relative_to(REPO)}"
    return None


def test_the_slug_rules_match_github() -> None:
    assert github_slug("Scaling: partitions and replicas") == "scaling-partitions-and-replicas"
    assert github_slug("Fault suite (`make chaos`)") == "fault-suite-make-chaos"
    assert github_slug("SCIM 2.0 endpoint") == "scim-20-endpoint"
    assert github_slug("Webhook signature (how receivers verify)") == (
        "webhook-signature-how-receivers-verify"
    )
    assert github_slug("kpi-ingest (port 8004)") == "kpi-ingest-port-8004"
    assert github_slug("Consumers: the runner — and DLQs") == "consumers-the-runner--and-dlqs"


def test_the_checker_finds_a_broken_link() -> None:
    page = REPO / "docs" / "architecture.md"
    assert broken(page, "operations.md#alerts") is None
    assert broken(page, "operations.md#no-such-heading") is not None
    assert broken(page, "no-such-page.md") is not None
    assert broken(page, "#storage") is None
    assert broken(page, "#nowhere") is not None


def test_the_docs_have_their_pages() -> None:
    names = {page.name for page in PAGES}
    for wanted in (
        "people.md",
        "goals.md",
        "feedback.md",
        "kpi-ingest.md",
        "notifications.md",
        "reviews.md",
        "architecture.md",
        "operations.md",
        "bench.md",
        "chaos.md",
    ):
        assert wanted in names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path) -> None:
    problems = [why for target in links(page) if (why := broken(page, target))]
    assert problems == []


def test_the_readme_is_a_front_door() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"


def runbooks() -> list[tuple[str, str]]:
    found = []
    for rules in (
        REPO / "deploy" / "prometheus" / "rules" / "northstar.rules.yml",
        REPO / "deploy" / "k8s" / "base" / "monitoring" / "prometheusrule.yaml",
    ):
        document = yaml.safe_load(rules.read_text(encoding="utf-8"))
        groups = document.get("spec", document)["groups"]
        for group in groups:
            for rule in group["rules"]:
                annotations = rule.get("annotations", {})
                for key in ("runbook", "runbook_url"):
                    if key in annotations:
                        found.append((rule["alert"], annotations[key]))
    return found


def test_every_alert_runbook_points_at_a_heading() -> None:
    found = runbooks()
    assert found, "no runbook annotations found"
    problems = [f"{alert}: {why}" for alert, link in found if (why := broken(README, link))]
    assert problems == []


def test_the_readme_shows_the_collectors_metrics_endpoint_as_the_kpi_page_does() -> None:
    """Beside the metrics, how a collector sends KPIs: the same exporter settings as the page."""
    readme = README.read_text(encoding="utf-8")
    page = (REPO / "docs" / "kpi-ingest.md").read_text(encoding="utf-8")
    for setting in (
        "otlphttp/northstar:",
        "metrics_endpoint: https://northstar.example/v1/webhooks/src_…",
        "encoding: json",
        "compression: none",
        "Bearer ${env:NORTHSTAR_KPI_TOKEN}",
    ):
        assert setting in readme, setting
        assert setting in page, setting
    assert readme.index("metrics_endpoint") - readme.index("`/metrics` (Prometheus)") < 800
