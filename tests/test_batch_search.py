"""``rdapctl batch`` with ``search:`` lines (issue 20), end to end against a real RDAP
test server on 127.0.0.1 serving ARIN's answer to ``entities?fn=arin*``.

Each run goes through lookup threads (``max_concurrent_requests = 1``) or worker
processes (2: forked workers, where the machine has two CPUs), as a batch picks.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from rdapctl.cli import app
from rdapctl.policy.tenant import QUERY_TYPES
from rdapctl.rdap.search_args import FORWARD_OPTIONS, REVERSE_OPTIONS
from tests.support import load_fixture, stop_server

runner = CliRunner()

FIXTURE = "search/arin-entitySearchResults-fn-arin.json"
ARIN = load_fixture(FIXTURE)
assert isinstance(ARIN, dict)
HANDLES = [e["handle"] for e in ARIN["entitySearchResults"]]
SEARCH = "search:entities --fn arin*"
TWO_CPUS = len(os.sched_getaffinity(0)) >= 2


class Registry:
    """An RDAP server: entity searches (forward or reverse) answered with the ARIN
    fixture, domain lookups with a small domain object, anything else 404; every
    request recorded as path?query as sent."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.lock = threading.Lock()
        self.requests: list[str] = []
        self.fail_once: set[str] = set()  # path?query answered 400 once
        server.expect_request(re.compile(r"/.*")).respond_with_handler(self.handle)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/"

    def handle(self, request: Request) -> Response:
        seen = request.path
        if request.query_string:
            seen += "?" + request.query_string.decode("latin-1")
        with self.lock:
            self.requests.append(seen)
            failing = seen in self.fail_once
            self.fail_once.discard(seen)
        body: dict[str, Any]
        if failing:
            status, body = 400, {"errorCode": 400, "title": "try again"}
        elif request.path.startswith("/entities"):  # forward and reverse searches
            status, body = 200, ARIN
        elif request.path.startswith("/domain/"):
            name = request.path.rsplit("/", 1)[-1]
            status, body = 200, {"objectClassName": "domain", "ldhName": name}
        else:
            status, body = 404, {"errorCode": 404, "title": "not here"}
        return Response(json.dumps(body), status=status, content_type="application/rdap+json")

    def searches(self) -> list[str]:
        with self.lock:
            return [r for r in self.requests if not r.startswith("/domain/")]


@pytest.fixture
def registry() -> Iterator[Registry]:
    srv = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    srv.start()
    yield Registry(srv)
    srv.clear()
    stop_server(srv)


def write_profiles(
    home: Path, registry: Registry, concurrency: int, extra: str = "", *, ports: str = ""
) -> None:
    """Tenant "lab": lookups and searches (servers.search) go to the test server;
    ``ports``: more it may reach."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "profiles.toml").write_text(
        f"""default_tenant = "lab"

[tenants.lab]
isolation = "standard"

[tenants.lab.security]
allow_http = true
allow_private_ips = ["127.0.0.1/32"]
allowed_ports = [{registry.server.port}{ports}]
requests_per_second = 1000.0
max_concurrent_requests = {concurrency}
{extra}

[tenants.lab.servers]
all = "{registry.url()}"
search = "{registry.url()}"
""",
        encoding="utf-8",
    )


RUNNERS = [
    pytest.param(1, id="threads"),
    pytest.param(
        2,
        id="processes",
        marks=pytest.mark.skipif(not TWO_CPUS, reason="needs two CPUs for worker processes"),
    ),
]


@pytest.fixture(params=RUNNERS)
def lab(request: pytest.FixtureRequest, registry: Registry, rdapctl_home: Path) -> Registry:
    write_profiles(rdapctl_home, registry, request.param)
    return registry


def batch(
    tmp_path: Path, lines: list[str], *args: str, env: dict[str, str] | None = None
) -> tuple[int, list[dict[str, Any]], str]:
    infile = tmp_path / "in.txt"
    infile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["batch", str(infile), "--no-progress", *args], env=env)
    # Split on newlines only: a line's text may hold U+0085 or U+2028 (hostile input).
    out = [json.loads(x) for x in result.stdout.split("\n") if x.strip()]
    return result.exit_code, out, result.stderr


def records(home: Path, event: str) -> list[dict[str, Any]]:
    """The tenant's ``event`` records, oldest first (lines split on newlines only: a
    record may hold U+0085 or U+2028 from a hostile line)."""
    found = []
    for day in sorted((home / "audit" / "lab").glob("*.jsonl")):
        for line in day.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                record = json.loads(line)
                if record["event"] == event:
                    found.append(record)
    return found


# --- a mixed file --------------------------------------------------------------------


MIXED = [
    "a.com",
    SEARCH,
    "# a comment",
    "domain:b.com",
    "search:entities --fn arin* --limit 5",
    "search:domains --colour blue",
    SEARCH,
    "c.com",
]


def test_search_lines_give_one_envelope_each_in_input_order(
    lab: Registry, tmp_path: Path, rdapctl_home: Path
) -> None:
    """Lookups and searches mixed: one envelope per line, in order; each search's
    envelope holds its results (up to its limit); a bad search line is a usage error
    for that line alone; repeated search lines are each asked."""
    code, out, err = batch(tmp_path, MIXED, "--no-cache")
    assert code == 2, err  # the bad line: a usage error, the most serious failure
    assert [e["line"] for e in out] == [1, 2, 4, 5, 6, 7, 8]
    assert [e["type"] for e in out] == [
        "domain",
        "search",
        "domain",
        "search",
        "search",
        "search",
        "domain",
    ]
    assert [e["status"] for e in out] == ["ok", "ok", "ok", "ok", "error", "ok", "ok"]
    full, five, bad, again = out[1], out[3], out[4], out[5]
    assert full["query"] == "arin*" and full["url"] == lab.url() + "entities?fn=arin*"
    # ARIN's answer holds 266 entities; the default limit keeps 100 and says so.
    assert [r["handle"] for r in full["results"]] == HANDLES[:100]
    assert full["search"]["kind"] == "entities"
    assert full["search"]["params"] == {"fn": "arin*"}
    assert full["search"]["results_count"] == 100 and full["search"]["truncated"] is True
    assert [r["handle"] for r in five["results"]] == HANDLES[:5]
    assert five["search"]["results_count"] == 5
    assert again["results"] == full["results"]
    assert bad["error"]["code"] == "usage_error"
    assert "--colour" in bad["error"]["message"]
    assert bad["query"] == "domains --colour blue"
    assert bad["search"] is None and bad["results"] == []
    # Three searches that parse, three requests as RFC 9082 spells them (no dedup).
    assert lab.searches() == ["/entities?fn=arin*"] * 3
    assert "7 of 7 answered" in err


def test_one_search_audit_record_per_search_line(
    lab: Registry, tmp_path: Path, rdapctl_home: Path
) -> None:
    """Every search line, answered or not, has exactly one ``search`` record (written
    through the batch's chunked audit sink, by threads or by worker processes); lookups
    keep theirs; the chain verifies."""
    code, _, err = batch(tmp_path, MIXED, "--no-cache")
    assert code == 2, err
    searches = records(rdapctl_home, "search")
    # entities --fn names a person as far as rdapctl can tell: the redacting tenant's
    # trail keeps the pattern's keyed hash (the same for the same pattern).
    ok_queries = {r["query"] for r in searches if r["status"] == "ok"}
    assert len(ok_queries) == 1 and "arin" not in next(iter(ok_queries))
    assert all(r.get("query_hashed") for r in searches if r["status"] == "ok")
    assert sorted(r["status"] for r in searches) == ["error", "ok", "ok", "ok"]
    # A line that does not parse may hold anything: its text is hashed too.
    [bad_line] = [r for r in searches if r["status"] == "error"]
    assert bad_line["query_hashed"] is True and "colour" not in bad_line["query"]
    assert {r["command"] for r in searches} == {"batch"}
    ok = [r for r in searches if r["status"] == "ok"]
    assert sorted(r["results"] for r in ok) == [5, 100, 100]
    assert {r["url_path"] for r in ok} == {"/entities"}
    assert {r["kind"] for r in ok} == {"entities"}
    assert all(r["pages"] == 1 and r["requests"] == 1 for r in ok)
    bad = next(r for r in searches if r["status"] == "error")
    assert bad["error_code"] == "usage_error" and bad["exit_code"] == 2
    lookups = records(rdapctl_home, "lookup")
    assert sorted(r["query"] for r in lookups) == ["a.com", "b.com", "c.com"]
    verify = runner.invoke(app, ["audit", "verify", "-t", "lab"])
    assert verify.exit_code == 0, verify.output


@pytest.mark.skipif(not TWO_CPUS, reason="needs two CPUs for worker processes")
def test_searches_in_worker_processes_are_recorded_by_the_workers(
    registry: Registry, tmp_path: Path, rdapctl_home: Path
) -> None:
    """Many search lines spread over the workers: one record each, written by the
    worker that ran it (not the parent), none lost or doubled."""
    write_profiles(rdapctl_home, registry, 2)
    lines = [f"search:entities --fn arin* --limit {n}" for n in range(1, 41)]
    code, out, err = batch(tmp_path, lines, "--no-cache")
    assert code == 0, err
    assert [e["search"]["results_count"] for e in out] == list(range(1, 41))
    searches = records(rdapctl_home, "search")
    assert sorted(r["results"] for r in searches) == list(range(1, 41))
    assert len({r["pid"] for r in searches}) == 2
    assert os.getpid() not in {r["pid"] for r in searches}


def test_a_search_line_goes_to_its_own_server(
    registry: Registry, tmp_path: Path, rdapctl_home: Path
) -> None:
    """``--server`` on a search line sends that search there; the other lines keep
    the tenant's servers."""
    other_srv = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    other_srv.start()
    try:
        other = Registry(other_srv)
        write_profiles(rdapctl_home, registry, 1, ports=f", {other_srv.port}")
        lines = [f"search:entities --handle ARIN --server {other.url()}", SEARCH, "a.com"]
        code, out, err = batch(tmp_path, lines, "--no-cache")
        assert code == 0, err
        assert other.requests == ["/entities?handle=ARIN"]
        assert registry.requests == ["/entities?fn=arin*", "/domain/a.com"]
        assert out[0]["server"] == other.url() and out[1]["server"] == registry.url()
    finally:
        other_srv.clear()
        stop_server(other_srv)


def test_a_reverse_search_line_the_tenant_does_not_allow_is_refused_alone(
    registry: Registry, tmp_path: Path, rdapctl_home: Path
) -> None:
    """Reverse searches must be allowed explicitly: that line is denied before any
    request (exit 4), with its search record; the other lines are answered."""
    write_profiles(rdapctl_home, registry, 1)
    lines = ["search:domains --entity-handle ARIN-1 --role registrant", SEARCH]
    code, out, err = batch(tmp_path, lines, "--no-cache")
    assert code == 4, err
    assert [e["status"] for e in out] == ["denied", "ok"]
    assert "reverse_search" in out[0]["error"]["message"]
    assert registry.requests == ["/entities?fn=arin*"]
    assert [r["status"] for r in records(rdapctl_home, "search")] == ["denied", "ok"]


def test_hash_queries_keeps_every_search_line_out_of_the_trail(
    registry: Registry, tmp_path: Path, rdapctl_home: Path
) -> None:
    """Under audit.hash_queries a search line's pattern, and the whole text of one that
    does not parse, appear nowhere in the audit trail: only their keyed hashes."""
    write_profiles(rdapctl_home, registry, 1)
    with (rdapctl_home / "profiles.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n[tenants.lab.audit]\nhash_queries = true\n")
    lines = ["search:entities --fn arin*", "search:entities --fn zorglub* --colour x"]
    code, out, err = batch(tmp_path, lines, "--no-cache")
    assert code == 2, err
    assert out[0]["query"] == "arin*"  # the output is the tenant's own
    trail = "".join(p.read_text() for p in (rdapctl_home / "audit" / "lab").glob("*.jsonl"))
    assert "arin" not in trail.lower() and "zorglub" not in trail
    searches = records(rdapctl_home, "search")
    assert len(searches) == 2 and len({r["query"] for r in searches}) == 2


# --- bad lines -------------------------------------------------------------------------


BAD_LINES = {
    "search:": "empty search",
    "search:widgets --name x": "unknown search",
    "search:domains --name": "needs a value",
    "search:domains --name a.com --ns-name ns1.a.com": "takes only one of",
    'search:entities --fn "arin': "cannot read the search",
    "search:entities --fn arin --limit ten": "not a number",
    "search:entities --handle A --handle B": "given twice",
    "search:entities --name x": "does not take",
}


def test_each_bad_search_line_is_a_usage_error_of_its_own(
    registry: Registry, tmp_path: Path, rdapctl_home: Path
) -> None:
    """Whatever is wrong with a search line, that line gets a usage error envelope
    saying what, nothing is sent for it, and the lines around it are answered."""
    write_profiles(rdapctl_home, registry, 1)
    bad = list(BAD_LINES)
    code, out, err = batch(tmp_path, ["a.com", *bad, "b.com"], "--no-cache")
    assert code == 2, err
    assert len(out) == len(bad) + 2
    assert out[0]["status"] == out[-1]["status"] == "ok"
    for line, envelope in zip(bad, out[1:-1], strict=True):
        assert envelope["type"] == "search", line
        assert envelope["error"]["code"] == "usage_error", line
        assert BAD_LINES[line] in envelope["error"]["message"], (line, envelope["error"])
    assert registry.searches() == []
    assert len(records(rdapctl_home, "search")) == len(bad)


def test_search_lines_count_towards_max_batch_size(
    registry: Registry, tmp_path: Path, rdapctl_home: Path
) -> None:
    """A search line is one query line: two searches and a lookup exceed 2, and
    nothing is sent; with room for three, all three are answered."""
    write_profiles(rdapctl_home, registry, 1, "max_batch_size = 2")
    lines = [SEARCH, "a.com", "search:entities --handle ARIN*"]
    code, out, err = batch(tmp_path, lines)
    assert code == 4, err
    assert out == [] and registry.requests == []
    assert "at most 2" in err
    write_profiles(rdapctl_home, registry, 1, "max_batch_size = 3")
    code, out, err = batch(tmp_path, lines)
    assert code == 0, err
    assert [e["line"] for e in out] == [1, 2, 3]


# --- resume and the cache ------------------------------------------------------------------


def test_resume_skips_an_answered_search_line_and_asks_a_failed_one_again(
    lab: Registry, tmp_path: Path
) -> None:
    """The first run: one search fails (HTTP 400). --resume asks only that search
    again; the answered search and lookup lines are kept, not asked again."""
    out_file = tmp_path / "out.jsonl"
    lines = ["a.com", "search:entities --handle ARIN*", SEARCH]
    lab.fail_once.add("/entities?handle=ARIN*")
    code, out, err = batch(tmp_path, lines, "--output", str(out_file), "--no-cache")
    assert code == 7, err
    assert out == []  # everything went to the file
    first = [json.loads(x) for x in out_file.read_text(encoding="utf-8").splitlines()]
    assert [(e["line"], e["status"]) for e in first] == [(1, "ok"), (2, "error"), (3, "ok")]
    assert first[1]["http_status"] == 400
    before = len(lab.requests)
    code, _, err = batch(tmp_path, lines, "--output", str(out_file), "--resume", "--no-cache")
    assert code == 0, err
    assert lab.requests[before:] == ["/entities?handle=ARIN*"]
    assert "2 skipped" in err
    final = [json.loads(x) for x in out_file.read_text(encoding="utf-8").splitlines()]
    assert sorted((e["line"], e["status"]) for e in final) == [(1, "ok"), (2, "ok"), (3, "ok")]
    redone = next(e for e in final if e["line"] == 2)
    assert redone["query"] == "ARIN*" and len(redone["results"]) == 100


def test_resume_refuses_results_of_another_search(lab: Registry, tmp_path: Path) -> None:
    """The output's last line answers ``arin*``; the input's last line now searches for
    something else: not this input's results, so --resume refuses (nothing sent)."""
    out_file = tmp_path / "out.jsonl"
    code, _, err = batch(tmp_path, ["a.com", SEARCH], "--output", str(out_file))
    assert code == 0, err
    before = len(lab.requests)
    changed = ["a.com", "search:entities --fn apnic*", "b.com"]
    code, _, err = batch(tmp_path, changed, "--output", str(out_file), "--resume")
    assert code == 2
    assert "another input" in err and "'apnic*'" in err
    assert len(lab.requests) == before


def test_search_pages_are_cached_and_answer_offline(
    lab: Registry, tmp_path: Path, rdapctl_home: Path
) -> None:
    """A search line's pages are cached (by the worker's chunked cache writes too):
    --offline answers the same search from them, with no request."""
    code, online, err = batch(tmp_path, ["a.com", SEARCH])
    assert code == 0, err
    assert online[1]["source"] == "network"
    before = len(lab.requests)
    code, offline, err = batch(tmp_path, ["a.com", SEARCH], "--offline")
    assert code == 0, err
    assert len(lab.requests) == before
    assert offline[1]["source"] == "cache"
    assert offline[1]["results"] == online[1]["results"]
    assert offline[1]["search"]["results_count"] == 100
    assert [r["source"] for r in records(rdapctl_home, "search")] == ["network", "cache"]


# --- hostile lines ---------------------------------------------------------------------------

_WORDS = st.sampled_from(
    [
        "domains",
        "nameservers",
        "entities",
        "ips",
        "autnums",
        "--name",
        "--ns-name",
        "--ns-ip",
        "--ip",
        "--fn",
        "--handle",
        "--entity-handle",
        "--entity-fn",
        "--entity-email",
        "--role",
        "--sort",
        "--total",
        "--field-set",
        "--limit",
        "--unicode",
        "arin*",
        "0",
        "-1",
        "99999",
        "a.com",
        "192.0.2.1",
        "'",
        '"',
        "\\",
        "=",
        "#",
    ]
)
# Any text but a line break.
_TEXT = st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=12)
_NOISE = st.lists(st.one_of(_WORDS, _TEXT), max_size=6).map(" ".join)
_OPTIONS = {kind: [*forward, *REVERSE_OPTIONS] for kind, forward in FORWARD_OPTIONS.items()}
_EXTRAS = st.sampled_from(["", "--total", "--limit 3", "--sort name:a", "--field-set brief"])


@st.composite
def _searches(draw: st.DrawFn) -> str:
    """A line of the grammar (a kind, one of its options, an extra) with a hostile
    value, quoted so that it reaches the search as it is."""
    kind = draw(st.sampled_from(sorted(_OPTIONS)))
    option = draw(st.sampled_from(_OPTIONS[kind]))
    usual = st.sampled_from(
        ["arin*", "ARIN-*", "a.com", "*.example", "bücher.example", "192.0.2.1"]
    )
    value = draw(st.one_of(usual, _TEXT))
    return f"{kind} {option} {shlex.quote(value)} {draw(_EXTRAS)}"


def _stays_here(line: str) -> bool:
    """No ``--server`` word once quotes are read (``--ser""ver`` is one): every search
    goes to the tenant's servers.search, the test server."""
    try:
        return not any(w.startswith("--server") for w in shlex.split(line))
    except ValueError:
        return True  # not readable: a usage error, nothing is sent


_LINE = st.one_of(_NOISE, _searches()).filter(_stays_here)


@settings(max_examples=25)
@given(texts=st.lists(_LINE, min_size=1, max_size=4))
def test_any_search_line_gets_exactly_one_envelope_and_one_record(
    registry: Registry, tmp_path: Path, texts: list[str]
) -> None:
    """Whatever follows ``search:``, every line ends in one envelope (type search) and
    one ``search`` record; nothing crashes; a usage error or a search, never a lookup."""
    home = Path(tempfile.mkdtemp(dir=tmp_path, prefix="home-"))  # fresh for each example
    write_profiles(home, registry, 1, f"allowed_query_types = {list(QUERY_TYPES)}")
    lines = ["a.com", *(f"search:{t}" for t in texts)]
    sent = len(registry.searches())
    code, out, err = batch(tmp_path, lines, "--no-cache", env={"RDAPCTL_HOME": str(home)})
    assert code in (0, 2, 4, 7), err
    assert "Traceback" not in err
    assert [e["line"] for e in out] == list(range(1, len(lines) + 1)), err
    assert out[0]["status"] == "ok"
    for envelope in out[1:]:
        assert envelope["type"] == "search"
        if envelope["search"] is None:  # it did not parse
            assert envelope["error"]["code"] == "usage_error"
            assert envelope["results"] == []
        else:
            assert envelope["search"]["results_count"] == len(envelope["results"])
    searches = records(home, "search")
    assert len(searches) == len(texts)
    # Every request the server saw for a search is in some line's record.
    assert sum(r["requests"] for r in searches) == len(registry.searches()) - sent
