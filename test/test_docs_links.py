"""The README and the pages under docs/ hold together: every relative link leads to a file
that exists, every #anchor into a page names one of its headings, and the README stays a
short front door."""

import re
from pathlib import Path

from conftest import REPO

README = REPO / 'README.md'
README_MAX_LINES = 250
GENERATED = {'benchmarks.md', 'gpu-check.md'}  # written by make bench / make gpu-check
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')
FENCE = re.compile(r'^\s*(```|~~~)')


def pages() -> list[Path]:
    """The README and every page under docs/."""
    return [README, *sorted((REPO / 'docs').glob('*.md'))]


def prose_lines(text: str) -> list[str]:
    """The lines of ``text`` outside fenced code blocks, with inline code spans blanked."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(re.sub(r'`[^`]*`', lambda m: ' ' * len(m.group()), line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation other than '-' and '_' dropped,
    spaces to '-'."""
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', heading.strip()).lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a markdown file, with GitHub's -1, -2 for repeated headings."""
    found, seen = set(), {}
    text, fenced = path.read_text(), False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = re.match(r'^#{1,6}\s+(.*?)\s*#*\s*$', line)
        if match and not fenced:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f'{base}-{count}')
    return found


def relative_links(path: Path) -> list[str]:
    """The relative link targets of a markdown file (not http(s), mailto or other schemes)."""
    targets = []
    for line in prose_lines(path.read_text()):
        for match in LINK.finditer(line):
            target = match.group(1)
            if not re.match(r'^[a-z][a-z0-9+.-]*:', target, re.IGNORECASE):
                targets.append(target)
    return targets


def broken_links(path: Path) -> list[str]:
    """The relative links of ``path`` that lead nowhere, each with the reason."""
    broken = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition('#')
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f'{target}: no file {linked}')
        elif anchor and linked.suffix == '.md' and anchor not in anchors(linked):
            broken.append(f'{target}: no heading #{anchor} in {linked.name}')
    return broken


def test_every_written_docs_page_links_back_to_the_readme():
    """If this fails, the docs/ folder is missing, or a reader who landed on one of its pages
    has no way back to the README."""
    written = [p for p in pages()[1:] if p.name not in GENERATED]
    assert written
    assert [p.name for p in written
            if README.resolve() not in {(p.parent / t.partition('#')[0]).resolve()
                                        for t in relative_links(p)}] == []


def test_every_relative_link_leads_to_a_file_and_heading_that_exist():
    """If this fails, a reader clicking a link in the README or a docs page gets a 404 or
    lands at the top of a page instead of the section it promised."""
    broken = {page.relative_to(REPO).as_posix(): broken_links(page) for page in pages()}
    assert {page: links for page, links in broken.items() if links} == {}


def test_every_docs_page_is_linked_from_the_readme():
    """If this fails, a docs page exists that a reader of the README cannot find."""
    linked = {(README.parent / target.partition('#')[0]).resolve()
              for target in relative_links(README)}
    assert [p.name for p in pages()[1:] if p.resolve() not in linked] == []


def test_the_readme_is_a_short_front_door():
    """If this fails, the README has grown past a front door again: the detail belongs in a
    docs page."""
    assert len(README.read_text().splitlines()) <= README_MAX_LINES


def test_the_slug_is_githubs():
    """If this fails, anchors would be checked against the wrong rule and links that work on
    GitHub would be reported broken (or broken ones missed)."""
    assert slug('`lhg-ros`: the command-line tools') == 'lhg-ros-the-command-line-tools'
    assert slug('Audio from a topic (audio_common)') == 'audio-from-a-topic-audio_common'
    assert slug('bench_model') == 'bench_model'
    assert slug('(a) On a ROS 2 distribution: Humble') == 'a-on-a-ros-2-distribution-humble'
