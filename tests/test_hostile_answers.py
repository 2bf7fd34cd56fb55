"""Issue 16: whatever a registry sends, a lookup ends in a documented envelope.

One regression test per way a hostile or broken server broke a README promise: the
lookup crashed (exit 1, empty stdout), printed invalid JSON, skipped the tenant's
policy on a redirect, sent unbounded requests, hung, or took anything for an answer.
Every server here is a real socket on 127.0.0.1 (``tests.rawserver``).
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hostile import UNSAFE, audit_records, invoke, lab_profiles, lookup_json, lookup_records
from tests.rawserver import RawServer, Request, fixture_bytes, response

DOMAIN = "domain-gtld-registry/verisign-com-google.com-2022-05.json"
REGISTRAR = "domain-registrar/markmonitor-google.com.json"
AUTNUM = "autnum/arin-as63311.json"
NOT_FOUND = "error/ripe-404-error.json"


def domain_with_links(hrefs: list[str]) -> bytes:
    obj = json.loads(fixture_bytes(DOMAIN))
    obj["links"] = [{"rel": "related", "href": h, "type": "application/rdap+json"} for h in hrefs]
    return json.dumps(obj).encode()


@pytest.fixture
def served(rdapctl_home: Path) -> Iterator[dict[str, Any]]:
    """A server whose answers the test sets (``served["answer"]``: request -> steps)."""
    state: dict[str, Any] = {"answer": lambda req: [response(fixture_bytes(DOMAIN))]}

    def script(req: Request) -> Any:
        return state["answer"](req)  # looked up per request: tests replace it

    with RawServer(script) as server:
        state["server"] = server
        lab_profiles(rdapctl_home, server.port)
        yield state


# -- crashes become envelopes ----------------------------------------------------------


@pytest.mark.parametrize("depth", [1_000, 5_000, 101])
def test_deeply_nested_json_is_bad_json_not_a_crash(
    served: dict[str, Any], rdapctl_home: Path, depth: int
) -> None:
    body = b'{"objectClassName":"domain","x":' + b"[" * depth + b"]" * depth + b"}"
    served["answer"] = lambda req: [response(body)]
    code, env, err = lookup_json("example.com")
    assert code == 7
    assert env["status"] == "error"
    assert env["error"]["code"] == "bad_json"
    assert env["http_status"] == 200
    assert "internal error" not in err
    assert [r["status"] for r in lookup_records(rdapctl_home)] == ["error"]


@pytest.mark.parametrize(
    "text",
    [b'"a\\ud800b"', b'"\\udfff"', b'"\xed\xa0\x80"', b'"\xff\xfe"', b'"\\ud83d\\ude00 ok"'],
    ids=["escaped-high", "escaped-low", "raw-surrogate", "invalid-utf8", "valid-pair"],
)
def test_strings_that_are_not_unicode_are_replaced_and_printed(
    served: dict[str, Any], rdapctl_home: Path, text: bytes
) -> None:
    """Lone surrogates, escaped or raw, and invalid UTF-8 become U+FFFD: the lookup is
    printed, cached and read back from the cache as valid UTF-8 JSON."""
    body = b'{"objectClassName":"domain","ldhName":"example.com","port43":' + text + b"}"
    served["answer"] = lambda req: [response(body)]
    for _ in range(2):  # network, then the cache
        code, out, _ = invoke("lookup", "example.com", "-o", "json")
        assert code == 0
        out.encode("utf-8")  # no lone surrogate survives
        port43 = json.loads(out)["response"]["port43"]
        assert "\ufffd" in port43 or port43 == "\U0001f600 ok"
    assert json.loads(out)["source"] == "cache"


@pytest.mark.parametrize(
    "location",
    ["http://[::1", "http://a..b/", "http://" + "x" * 64 + ".example/", "http://h:99999/", " "],
)
def test_unusable_location_is_bad_redirect(
    served: dict[str, Any], rdapctl_home: Path, location: str
) -> None:
    served["answer"] = lambda req: [
        b"HTTP/1.1 302 Found\r\nLocation: " + location.encode() + b"\r\nContent-Length: 0\r\n\r\n"
    ]
    code, env, err = lookup_json("example.com")
    assert code == 7
    assert env["error"]["code"] == "bad_redirect"
    assert env["http_status"] == 302
    assert "internal error" not in err
    assert len(lookup_records(rdapctl_home)) == 1


def test_unusable_referral_hrefs_are_listed_not_fatal(served: dict[str, Any]) -> None:
    served["answer"] = lambda req: [
        response(domain_with_links(["http://[::1", "http://a..b/x", "mailto:x@example.com"]))
    ]
    code, env, _ = lookup_json("example.com")
    assert code == 0
    assert [r["status"] for r in env["referrals"]] == ["error", "error", "error"]
    assert {r["error"]["code"] for r in env["referrals"]} == {"bad_referral"}
    assert len(served["server"].requests) == 1


def test_a_batch_goes_on_past_hostile_answers(
    served: dict[str, Any], rdapctl_home: Path, tmp_path: Path
) -> None:
    """Every line gets its envelope; one bad answer no longer ends the run."""
    answers = {
        "/domain/deep.com": response(b"[" * 5000 + b"]" * 5000),
        "/domain/nan.com": response(b'{"objectClassName":"domain","x":NaN}'),
        "/domain/moved.com": b"HTTP/1.1 302 Found\r\nLocation: http://[::1\r\n\r\n",
    }
    served["answer"] = lambda req: [answers.get(req.path) or response(fixture_bytes(DOMAIN))]
    source = tmp_path / "in.txt"
    source.write_text("deep.com\nnan.com\nmoved.com\ngoogle.com\n")
    out = tmp_path / "out.jsonl"
    code, _, err = invoke("batch", str(source), "--output", str(out), "--no-progress")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((r["line"], r["status"]) for r in lines) == [
        (1, "error"),
        (2, "error"),
        (3, "error"),
        (4, "ok"),
    ]
    assert code == 7
    assert "worker failed" not in err


# -- valid JSON only --------------------------------------------------------------------


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e400"])
def test_non_json_numbers_are_bad_json(served: dict[str, Any], token: bytes) -> None:
    served["answer"] = lambda req: [response(b'{"objectClassName":"domain","n":' + token + b"}")]
    code, out, _ = invoke("lookup", "example.com", "-o", "json")
    assert code == 7
    strict = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} on stdout"))
    assert strict["error"]["code"] == "bad_json"


def test_broken_profiles_and_unknown_tenant_still_print_json(rdapctl_home: Path) -> None:
    rdapctl_home.mkdir(parents=True, exist_ok=True)
    (rdapctl_home / "profiles.toml").write_text("[tenants.x\nbroken")
    for mode in ("json", "rdap"):
        code, out, err = invoke("lookup", "example.com", "-o", mode)
        assert code == 3
        doc = json.loads(out)
        assert (doc["error"]["exit_code"] if mode == "json" else doc["errorCode"]) in (3, 500)
        assert "rdapctl: error:" in err
    (rdapctl_home / "profiles.toml").write_text('[tenants.known]\nisolation = "standard"\n')
    code, env, _ = lookup_json("example.com", "-t", "nope")
    assert code == 3
    assert env["tenant"] == "nope"
    assert env["error"]["exit_code"] == 3


def test_a_master_key_that_does_not_open_the_keyring_prints_json(
    served: dict[str, Any],
) -> None:
    first = {"RDAPCTL_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
    assert lookup_json("example.com", env=first)[0] == 0
    wrong = {"RDAPCTL_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
    for mode in ("json", "rdap"):
        code, out, _ = invoke("lookup", "example.com", "-o", mode, env=wrong)
        assert code == 9
        doc = json.loads(out)
        assert doc["error"]["exit_code"] == 9 if mode == "json" else doc["errorCode"] == 500


# -- the tenant's policy on every hop ----------------------------------------------------


@pytest.fixture
def europe_to_america(rdapctl_home: Path) -> Iterator[tuple[RawServer, RawServer]]:
    """127.0.0.1 (europe) redirects every lookup to localhost (north-america)."""
    with RawServer(lambda req: [response(fixture_bytes(AUTNUM))]) as america:
        to = f"http://localhost:{america.port}"
        with RawServer(
            lambda req: [
                f"HTTP/1.1 302 Found\r\nLocation: {to}{req.path}\r\n"
                "Content-Length: 0\r\n\r\n".encode()
            ]
        ) as europe:
            yield europe, america


def _residency_tenant(home: Path, isolation: str, europe: int, america: int) -> None:
    lab_profiles(
        home,
        europe,
        america,
        top='data_residency = ["europe"]\nunknown_region = "deny"\n'
        '[tenants.lab.regions]\n"127.0.0.1" = "europe"\n"localhost" = "north-america"',
    )
    text = (home / "profiles.toml").read_text()
    (home / "profiles.toml").write_text(
        text.replace('isolation = "standard"', f'isolation = "{isolation}"')
    )


def test_strict_residency_refuses_a_redirect_out_of_region(
    europe_to_america: tuple[RawServer, RawServer], rdapctl_home: Path
) -> None:
    europe, america = europe_to_america
    _residency_tenant(rdapctl_home, "strict", europe.port, america.port)
    code, env, _ = lookup_json("AS63311")
    assert code == 4
    assert env["status"] == "denied"
    assert env["response"] is None
    assert america.requests == []
    events = [r["event"] for r in audit_records(rdapctl_home)]
    assert "residency_violation" in events


def test_standard_residency_anonymises_what_a_redirect_target_answers(
    europe_to_america: tuple[RawServer, RawServer], rdapctl_home: Path
) -> None:
    europe, america = europe_to_america
    _residency_tenant(rdapctl_home, "standard", europe.port, america.port)
    code, env, _ = lookup_json("AS63311")
    assert code == 0
    assert "entities" not in env["response"]
    assert env["response"]["rdapctl_residency"]["anonymised"] is True
    assert env["server"] == f"http://localhost:{america.port}/"
    assert env["url"].startswith(f"http://localhost:{america.port}/")
    assert env["policy"]["residency"]["region"] == "north-america"
    (record,) = lookup_records(rdapctl_home)
    assert record["residency"]["region"] == "north-america"
    assert record["server_host"] == "localhost"


def test_a_referral_out_of_region_is_refused_under_strict_isolation(
    rdapctl_home: Path,
) -> None:
    with RawServer(lambda req: [response(fixture_bytes(REGISTRAR))]) as america:
        link = f"http://localhost:{america.port}/domain/google.com"
        with RawServer(lambda req: [response(domain_with_links([link]))]) as europe:
            _residency_tenant(rdapctl_home, "strict", europe.port, america.port)
            code, env, _ = lookup_json("google.com")
    assert code == 0
    assert [r["status"] for r in env["referrals"]] == ["denied"]
    assert america.requests == []


# -- bounded work --------------------------------------------------------------------------


@pytest.mark.parametrize("links", [30, 100])
def test_referral_links_are_bounded(rdapctl_home: Path, links: int) -> None:
    """Two links per answer, depth two, eight requests in all; the rest listed as skipped."""

    def answer(req: Request) -> list[bytes]:
        hrefs = [f"/domain/{req.path.strip('/').replace('/', '-')}-{i}" for i in range(links)]
        return [response(domain_with_links([server.url(h) for h in hrefs]))]

    with RawServer(answer) as server:
        lab_profiles(rdapctl_home, server.port)
        code, env, err = lookup_json("google.com")
    assert code == 0
    assert len(server.requests) == 1 + 2 + 4
    followed = [r for r in env["referrals"] if r["status"] == "ok"]
    skipped = [r for r in env["referrals"] if r["status"] == "skipped"]
    assert len(followed) == 6
    assert [r["depth"] for r in followed] == [1, 1, 2, 2, 2, 2]
    assert skipped and {r["error"]["code"] for r in skipped} == {"referral_limit"}
    assert "not followed" in err
    (record,) = lookup_records(rdapctl_home)
    assert record["requests"] == 7


def test_redirects_count_against_the_request_budget(rdapctl_home: Path) -> None:
    """A lookup sends at most 8 requests in all, redirects and referrals included."""

    def answer(req: Request) -> list[bytes]:
        if req.path.startswith("/hop"):
            n = int(req.path.split("/")[2])
            if n < 4:
                return [f"HTTP/1.1 302 Found\r\nLocation: /hop/{n + 1}\r\n\r\n".encode()]
        links = [server.url(f"/hop/{i}") for i in (0, 1)]
        return [response(domain_with_links(links))]

    with RawServer(answer) as server:
        lab_profiles(rdapctl_home, server.port)
        code, env, _ = lookup_json("google.com")
    assert code == 0
    assert len(server.requests) == 8
    assert env["referrals"][-1]["error"]["code"] == "request_limit"


def test_single_lookups_share_the_per_host_rate(served: dict[str, Any], rdapctl_home: Path) -> None:
    """requests_per_second holds across single lookups (the shared per-host state)."""
    text = (rdapctl_home / "profiles.toml").read_text()
    (rdapctl_home / "profiles.toml").write_text(
        text.replace("requests_per_second = 1000.0", "requests_per_second = 4.0")
    )
    started = time.monotonic()
    for name in ("a.com", "b.com", "c.com"):
        assert lookup_json(name, "--no-cache")[0] == 0
    assert time.monotonic() - started >= 0.45  # three requests at 4/s: two gaps of 0.25 s
    assert len(list((rdapctl_home / "ratelimit" / "lab").iterdir())) == 1


# -- deadlines -----------------------------------------------------------------------------


def _drip(body: bytes, every: float) -> list[bytes | float]:
    steps: list[bytes | float] = [
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rdap+json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    ]
    for byte in body:
        steps += [every, bytes([byte])]
    return steps


@pytest.mark.parametrize(
    "steps",
    [
        _drip(fixture_bytes(DOMAIN), 0.05),
        [b"HTTP/1.1 100 Continue\r\n\r\n", 0.05] * 400,
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n0\r\n"]
        + [b"X-Trailer: x\r\n", 0.05] * 400,
    ],
    ids=["dripped-body", "endless-100-continue", "endless-trailers"],
)
def test_timeout_bounds_the_whole_request(
    served: dict[str, Any], rdapctl_home: Path, steps: list[bytes | float]
) -> None:
    """timeout_s (here 1 s, with the retries of a low-criticality tenant: none) bounds
    one request from connect to the last trailer byte, whatever the server drips."""
    text = (rdapctl_home / "profiles.toml").read_text()
    text = text.replace("timeout_s = 2.0", "timeout_s = 1.0")
    text = text.replace(
        'isolation = "standard"', 'isolation = "standard"\nbusiness_criticality = "low"'
    )
    (rdapctl_home / "profiles.toml").write_text(text)
    served["answer"] = lambda req: steps
    started = time.monotonic()
    code, env, _ = lookup_json("example.com", "--no-cache")
    elapsed = time.monotonic() - started
    assert code == 7
    # Endless interim answers end at the 17th (a protocol error) or at the deadline.
    assert env["error"]["code"] in ("timeout", "network_error")
    assert elapsed < 10  # the server would go on for 20 s or more


# -- anything is not an answer ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "ctype", "code"),
    [
        (b"<html>hello</html>", "text/html", "bad_content_type"),
        (b"<rdap/>", "application/xml", "bad_content_type"),
        (b'"a string"', "application/rdap+json", "bad_json"),
        (b"[1, 2]", "application/rdap+json", "bad_json"),
        (b"", "application/rdap+json", "bad_json"),
        (fixture_bytes(AUTNUM), "application/rdap+json", "unexpected_object"),
        (b'{"errorCode": 500, "title": "oops"}', "application/rdap+json", "rdap_error"),
    ],
)
def test_a_200_that_is_no_answer_is_an_error(
    served: dict[str, Any], body: bytes, ctype: str, code: str
) -> None:
    served["answer"] = lambda req: [response(body, content_type=ctype)]
    exit_code, env, _ = lookup_json("example.com")
    assert exit_code == 7
    assert env["status"] == "error"
    assert env["error"]["code"] == code
    assert env["http_status"] == 200


def test_a_200_carrying_errorcode_404_is_not_found(served: dict[str, Any]) -> None:
    served["answer"] = lambda req: [response(fixture_bytes(NOT_FOUND))]
    code, env, _ = lookup_json("example.com")
    assert code == 6
    assert env["status"] == "not_found"
    assert env["response"]["errorCode"] == 404


@pytest.mark.parametrize("status", [400, 403, 422, 500, 503])
def test_error_bodies_are_kept_with_their_status(served: dict[str, Any], status: int) -> None:
    body = json.dumps({"errorCode": status, "title": "refused", "description": ["why"]})
    served["answer"] = lambda req: [response(body.encode(), status=f"{status} Nope")]
    code, env, err = lookup_json("example.com")
    assert code == 7
    assert env["http_status"] == status
    assert env["response"]["errorCode"] == status
    assert "refused" in err
    code, out, _ = invoke("lookup", "example.com", "-o", "rdap")
    assert json.loads(out)["errorCode"] == status


def test_a_429_keeps_its_status_in_json_and_rdap(served: dict[str, Any]) -> None:
    served["answer"] = lambda req: [
        response(b'{"errorCode":429,"title":"slow down"}', status="429 Too Many Requests")
    ]
    text_env = lookup_json("example.com")
    assert text_env[0] == 5
    assert text_env[1]["http_status"] == 429
    code, out, _ = invoke("lookup", "example.com", "-o", "rdap")
    assert code == 5
    assert json.loads(out)["errorCode"] == 429


# -- terminal-safe messages ---------------------------------------------------------------


def test_server_text_on_stderr_is_terminal_safe(served: dict[str, Any]) -> None:
    evil = "\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\u202eevil\x9b31m"
    body = json.dumps({"errorCode": 403, "title": evil, "description": [evil + "\nrdapctl: ok"]})
    served["answer"] = lambda req: [response(body.encode(), status="403 Forbidden")]
    code, out, err = invoke("lookup", "example.com", "-o", "json")
    assert code == 7
    assert not UNSAFE.search(err)
    assert "\\x1b]0;pwned" in err
    assert "\\u202e" in err
    assert err.count("\n") == 1  # one error line: the server cannot start a line of its own
    assert json.loads(out)["response"]["title"] == evil  # JSON keeps the data as sent


def test_referral_warning_is_terminal_safe(served: dict[str, Any]) -> None:
    served["answer"] = lambda req: [response(domain_with_links(["http://a..b/\u202e"]))]
    code, _, err = invoke("lookup", "example.com", "-o", "json")
    assert code == 0
    assert not UNSAFE.search(err)


# -- a bug in rdapctl is audited too ----------------------------------------------------------


def test_an_internal_error_is_an_audited_envelope(
    served: dict[str, Any], rdapctl_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit 1 is left for bugs: even then the request is audited and stdout is JSON."""

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr("rdapctl.policy.redaction.redact_pii", broken)
    code, env, err = lookup_json("example.com")
    assert code == 1
    assert env["error"]["code"] == "internal_error"
    assert "rdapctl: error: internal error: KeyError" in err
    (record,) = lookup_records(rdapctl_home)
    assert record["status"] == "error"
    assert record["error_code"] == "internal_error"
    assert record["requests"] == 1
