"""Huge answers: the lookup view shows the first items of every long list, then
"… and N more" (thousands separated), and stays a screenful.

A server decides how long its lists are: 100,000 statuses, entities (each nesting
more), events or links must neither flood the terminal nor take the view quadratic
time (these tests would take minutes if it did; they assert no timings).
"""

from __future__ import annotations

import io
import re
from typing import Any

from rich.console import Console

from rdapctl.cli.render.envelope import render_envelope

N = 100_000


def render(response: Any, **envelope: Any) -> str:
    console = Console(file=io.StringIO(), width=100, force_terminal=False, color_system=None)
    render_envelope(
        {"query": "big.example", "status": "ok", "response": response, **envelope}, console
    )
    return console.file.getvalue()  # type: ignore[attr-defined]


def domain(**members: Any) -> dict[str, Any]:
    return {"objectClassName": "domain", "ldhName": "big.example", **members}


def words(out: str) -> set[str]:
    return set(re.findall(r"[\w.:/@+-]+", out))


def test_100000_statuses_show_the_first_twenty_and_a_count() -> None:
    """The status line lists the first 20 distinct values and how many more there are."""
    out = render(domain(status=[f"status-{i}" for i in range(N)]))
    shown = words(out)
    assert {f"status-{i}" for i in range(20)} <= shown
    assert "status-20" not in shown
    assert "… and 99,980 more" in out
    assert len(out.splitlines()) < 10


def test_repeated_statuses_are_shown_once() -> None:
    """100,000 copies of three values are three values (no "more")."""
    out = render(domain(status=["active", "locked", "active", "ok"] * (N // 4)))
    assert "active, locked, ok" in out
    assert "more" not in out


def test_100000_entities_each_nesting_more_stay_a_screenful() -> None:
    """Entities count against one bound at every depth: the first few are shown, nested
    ones included, then how many more each level holds."""

    def entity(i: int) -> dict[str, Any]:
        child = {"handle": f"C{i}", "roles": ["technical"], "entities": [{"handle": f"G{i}"}] * 3}
        return {"handle": f"E{i}", "roles": ["registrant"], "entities": [child, child]}

    out = render(domain(entities=[entity(i) for i in range(N)]))
    bullets = [line for line in out.splitlines() if line.lstrip().startswith("•")]
    assert 8 <= len(bullets) <= 50
    assert "E0" in words(out) and "C0" in words(out) and "G0" in words(out)
    assert f"E{N - 1}" not in words(out)
    top = re.findall(r"^  … and ([\d,]+) more entities$", out, re.MULTILINE)
    assert top and int(top[-1].replace(",", "")) >= N - 8
    assert len(out.splitlines()) < 80


def test_100000_events_show_the_first_ten() -> None:
    """Events: the first ten rows, then the count of the rest."""
    events = [{"eventAction": f"act{i}", "eventDate": "2024-01-02T03:04:05Z"} for i in range(N)]
    out = render(domain(events=events))
    assert "act9" in words(out) and "act10" not in words(out)
    assert "… and 99,990 more events" in out


def test_100000_links_are_deduplicated_and_capped() -> None:
    """Links: the first eight distinct hrefs, then the count of the other distinct ones."""
    links = [{"rel": "related", "href": f"https://r{i % (N // 2)}.example/"} for i in range(N)]
    out = render(domain(links=links))
    assert "https://r7.example/" in out and "https://r8.example/" not in out
    assert "… and 49,992 more links" in out


def test_every_long_list_of_an_answer_is_cut() -> None:
    """Nameservers, notices and remarks (and their lines), jCard values, cidrs,
    redactions, members, search results and history records: each is cut."""
    many = [f"v{i}" for i in range(N)]
    card = ["vcard", [["email", {}, "text", f"e{i}@x.example"] for i in range(N)]]
    answer = domain(
        nameservers=[{"ldhName": f"ns{i}.example"} for i in range(N)],
        notices=[{"title": f"N{i}", "description": many if i == 0 else ["x"]} for i in range(N)],
        remarks=[{"title": f"R{i}", "description": many[:5]} for i in range(N)],
        entities=[{"handle": "H", "roles": many, "vcardArray": card}],
        redacted=[{"name": {"type": f"Field {i}"}} for i in range(N)],
    )
    out = render(answer)
    for expected in (
        "… and 99,987 more",  # nameservers after 13
        "N5:",
        "(… and 99,997 more lines)",  # a notice's description after 3 lines
        "… and 99,994 more notices",
        "(… and 2 more lines)",
        "… and 99,994 more remarks",
        "e2@x.example, … and 99,997 more",  # jCard values after 3
        "v7, … and 99,992 more",  # roles after 8
        "… and 99,990 more",  # redactions after 10
    ):
        assert expected in out, expected
    assert "N6:" not in out
    assert "Field 9" in out and "Field 10" not in out
    assert len(out.splitlines()) < 60

    ip = render(
        {
            "objectClassName": "ip network",
            "startAddress": "10.0.0.0",
            "cidr0_cidrs": [
                {"v4prefix": f"10.{i // 256 % 256}.{i % 256}.0", "length": 24} for i in range(N)
            ],
        }
    )
    assert "… and 65,528 more" in ip  # 65,536 distinct /24s, the first 8 shown
    generic = render({"objectClassName": "thing", **{f"member{i}": i for i in range(N)}})
    assert "… and 99,981 more" in generic  # 100,001 members, the first 20 shown


def test_search_results_and_history_show_fifty_rows() -> None:
    """100,000 search results or history records: fifty rows and the count of the rest."""
    results = [{"objectClassName": "domain", "ldhName": f"d{i}.example"} for i in range(N)]
    out = render({"domainSearchResults": results})
    assert "domainSearchResults (100,000)" in out
    assert "d49.example" in out and "d50.example" not in out
    assert "… and 99,950 more results" in out

    records = [{"applicableFrom": "2020-01-01", "content": {"handle": f"H{i}"}} for i in range(N)]
    history = render({"records": records})
    assert "100,000 records" in history
    assert "… and 99,950 more records" in history
