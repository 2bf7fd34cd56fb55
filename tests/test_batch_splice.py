"""Batch answers a cache hit from the stored envelope text, byte for byte what encoding
the hit's envelope would give."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from rdapctl.batch.jobs import splice_cache_hit
from rdapctl.core.jsontext import dumps_compact as _dumps
from rdapctl.rdap.envelope import envelope_head, envelope_head_text, make_envelope
from tests.support import loopback_profiles

runner = CliRunner()


def _stored(query: str) -> dict[str, object]:
    envelope = make_envelope(
        query=query,
        query_type="domain",
        tenant="lab",
        status="ok",
        server="http://127.0.0.1:1/",
        url=f"http://127.0.0.1:1/domain/{query}",
        http_status=200,
        response={"ldhName": query, "remarks": [{"description": ['"source":"x" bücher']}]},
    )
    envelope["policy"] = {"fingerprint": "f", "redacted_fields": [], "redacted_count": 0}
    return envelope


def test_spliced_hit_equals_the_encoded_hit_envelope() -> None:
    """Source and age spliced into the stored text give the same bytes as encoding."""
    for query in ("example.com", 'odd,"source":"cache",.com', "bücher.de"):
        stored = _stored(query)
        plain = _dumps(stored).encode("utf-8")
        for age in (0.0, 12.345, 86399.999):
            hit = json.loads(plain)
            hit.update(source="cache", age_s=round(age, 3))
            assert splice_cache_hit(plain, round(age, 3)) == _dumps(hit).encode("utf-8")


def test_head_cut_from_the_text_equals_the_encoded_head() -> None:
    """The head stored beside an entry is the same bytes whether it is cut out of the
    envelope's text or built and encoded, even when the body holds look-alike keys."""
    tricky = _stored('a.com",\n"referrals":[],"policy":')
    tricky["response"] = {"referrals": [], "policy": {"x": 1}, "response": 2}
    with_referral = _stored("b.com")
    with_referral["referrals"] = [{"url": "http://r/", "status": "ok", "response": {"a": 1}}]
    for envelope in (_stored("example.com"), _stored("bücher.de"), tricky, with_referral):
        text = _dumps(envelope).encode("utf-8")
        expected = _dumps(envelope_head(envelope)).encode("utf-8")
        assert envelope_head_text(envelope, text) == expected
        assert envelope_head_text(envelope) == expected
        head = json.loads(expected)
        assert head["response"] is None and "response" not in str(head["referrals"])
        assert b"\n" not in expected


def test_unexpected_stored_layout_is_not_spliced() -> None:
    """Text not laid out like a stored envelope is left to the encoder (None)."""
    stored = _stored("example.com")
    stored["source"] = "cache"
    assert splice_cache_hit(_dumps(stored).encode(), 1.0) is None
    assert splice_cache_hit(b'{"schema":1}', 1.0) is None
    assert splice_cache_hit(_dumps(_stored("a.com")).encode(), None) is None


def test_warm_batch_lines_are_the_cold_lines_with_cache_source_and_age(
    httpserver: HTTPServer, rdapctl_home: Path, tmp_path: Path
) -> None:
    """A second batch answers from the cache: same envelopes, source "cache", an age."""

    def handle(request: Request) -> Response:
        name = request.path.rsplit("/", 1)[-1]
        body = {"objectClassName": "domain", "ldhName": name, "remarks": [{"title": "é"}]}
        return Response(json.dumps(body), content_type="application/rdap+json")

    httpserver.expect_request(re.compile("/domain/.*")).respond_with_handler(handle)
    loopback_profiles(
        rdapctl_home,
        httpserver.port,
        extra="max_concurrent_requests = 4\nrequests_per_second = 1000.0\n"
        f'[tenants.lab.servers]\nall = "{httpserver.url_for("/")}"\n',
    )
    infile = tmp_path / "in.txt"
    infile.write_text("".join(f"s{i}.com\n" for i in range(40)), encoding="utf-8")
    from rdapctl.cli import app

    cold = runner.invoke(app, ["batch", str(infile), "--no-progress"])
    assert cold.exit_code == 0, cold.stderr
    served = len(httpserver.log)
    warm = runner.invoke(app, ["batch", str(infile), "--no-progress"])
    assert warm.exit_code == 0, warm.stderr
    assert len(httpserver.log) == served  # nothing fetched again
    cold_lines = [json.loads(x) for x in cold.stdout.splitlines()]
    warm_lines = [json.loads(x) for x in warm.stdout.splitlines()]
    assert [w["line"] for w in warm_lines] == list(range(1, 41))
    for c, w in zip(cold_lines, warm_lines, strict=True):
        assert (c["source"], w["source"]) == ("network", "cache")
        assert isinstance(w["age_s"], float) and w["age_s"] >= 0
        assert list(w) == list(c)
        for key in ("source", "age_s"):
            del c[key], w[key]
        assert w == c
