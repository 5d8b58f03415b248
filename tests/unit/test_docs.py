"""The documentation stands on its own: every relative link of the README, CONTRIBUTING.md and
docs/ leads to a file (and heading) of this repository, no doc points outside it, and the API
page lists every route the app serves."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINKED_DOCS = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "tests" / "README.md",
                      *(ROOT / "docs").glob("*.md")])

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks (a `# GIVEN` in a code sample is no heading)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def links_of(text: str) -> list[str]:
    """Every link target of a Markdown text, code spans and fenced blocks left out."""
    found: list[str] = []
    for line in _prose_lines(text):
        line = _CODE_SPAN.sub("", line)
        found += _INLINE_LINK.findall(line)
        ref = _REFERENCE_LINK.match(line)
        if ref:
            found.append(ref.group(1))
    return found


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: links and code marks dropped, lower case, punctuation
    removed, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors_of(text: str) -> set[str]:
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose_lines(text):
        m = _HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        anchors.add(base if n == 0 else f"{base}-{n}")
    anchors |= set(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", text))
    return anchors


def broken_links(doc: Path, root: Path) -> list[str]:
    """The relative links of `doc` that lead nowhere inside `root`, each with the reason."""
    problems: list[str] = []
    for target in links_of(doc.read_text(encoding="utf-8")):
        if _SCHEME.match(target) or target.startswith("//"):
            continue  # a web address: not this repository's to check
        path_part, _, anchor = target.partition("#")
        dest = (doc.parent / path_part).resolve() if path_part else doc
        try:
            dest.relative_to(root.resolve())
        except ValueError:
            problems.append(f"{target}: outside the repository")
            continue
        if not dest.exists():
            problems.append(f"{target}: no such file")
            continue
        if anchor and dest.suffix == ".md" and anchor not in anchors_of(dest.read_text(encoding="utf-8")):
            problems.append(f"{target}: no heading #{anchor} in {dest.name}")
    return problems


def tracked_docs(root: Path) -> list[Path]:
    """The Markdown files under version control, and new ones not ignored (every one outside
    hidden and vendored folders when this is not a git checkout)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.md"],
                             cwd=root, capture_output=True, check=True)
        names = [n for n in out.stdout.decode().split("\0") if n]
        return [root / n for n in names if (root / n).exists()]
    except (OSError, subprocess.CalledProcessError):
        skip = {"node_modules", ".venv", "test-artifacts"}
        return [p for p in root.rglob("*.md")
                if not any(part.startswith(".") or part in skip for part in p.relative_to(root).parts)]


@pytest.mark.parametrize("doc", LINKED_DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_of_the_repository(doc: Path) -> None:
    # GIVEN a document of the repository
    assert doc.exists(), f"{doc.relative_to(ROOT)} is missing"
    # WHEN its relative links are followed
    problems = broken_links(doc, ROOT)
    # THEN each reaches a file (and, into Markdown, a heading) inside the repository
    assert problems == [], f"{doc.relative_to(ROOT)}: " + "; ".join(problems)


def test_no_tracked_doc_points_outside_the_repository() -> None:
    # GIVEN every Markdown file under version control
    docs = tracked_docs(ROOT)
    assert any(d.name == "CONTRIBUTING.md" for d in docs)
    # WHEN they are searched for the folder a clone does not have
    offenders = [str(d.relative_to(ROOT)) for d in docs if "../shared" in d.read_text(encoding="utf-8")]
    # THEN none mentions it: what users and contributors need is in docs/
    assert offenders == []


def test_the_api_page_lists_every_route_the_app_serves() -> None:
    # GIVEN the routes Chalice serves
    from app import app

    routes = {f"{method} {path}" for path, entries in app.routes.items() for method in entries}
    # WHEN docs/api.md is read
    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    # THEN each route is named there, exactly as the app spells it
    missing = sorted(r for r in routes if f"`{r}`" not in page)
    assert missing == [], f"docs/api.md does not list: {missing}"


def test_the_link_check_catches_a_missing_file_a_missing_heading_and_an_escape(tmp_path: Path) -> None:
    # GIVEN a small repository whose page links to a file that exists, a heading that exists,
    # and three links that lead nowhere (one hidden in a code span, which is no link)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\n## Money rules\n\n```\n# Not a heading\n```\n")
    page = tmp_path / "README.md"
    page.write_text(
        "See [a](docs/a.md), [money](docs/a.md#money-rules), [web](https://example.com/x.md).\n"
        "Broken: [b](docs/b.md), [c](docs/a.md#not-a-heading), [up](../elsewhere/SPEC.md).\n"
        "Code: `[x](docs/nothing.md)`\n"
        "[ref]: docs/also-missing.md\n"
    )
    # WHEN the links are checked
    problems = broken_links(page, tmp_path)
    # THEN exactly the broken ones are reported
    assert [p.split(":")[0] for p in problems] == [
        "docs/b.md", "docs/a.md#not-a-heading", "../elsewhere/SPEC.md", "docs/also-missing.md"]


def test_slugs_follow_githubs_headings() -> None:
    # GIVEN headings with punctuation, code and an ampersand
    # WHEN they are turned into anchors
    # THEN they are the anchors GitHub links to
    assert slug("Cancel & Refund") == "cancel--refund"
    assert slug("`make run`: the local stack") == "make-run-the-local-stack"
    assert slug("GET /orders: which index serves which filter") == "get-orders-which-index-serves-which-filter"
    assert anchors_of("## Deploy\n### Deploy\n") == {"deploy", "deploy-1"}
