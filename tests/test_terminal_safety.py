"""Hostile text never reaches a person's terminal raw.

Registry servers and files another local account planted (audit day files, bootstrap
copies, cache entries, a profiles file, the state folder's own name) are untrusted.
Each command that shows such text to a person must write escapes, controls, bidi and
zero-width characters as readable escapes, and print rich markup and emoji codes
literally; JSON output keeps the data exactly as it is. Every test here plants the text
where the command really reads it and looks at what the command really prints.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import time
import tomllib
import unicodedata
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from rdapctl.cli import app
from rdapctl.policy.tenant import Tenant
from rdapctl.store.audit.fields import AuditContext
from rdapctl.store.audit.log import AuditLog
from rdapctl.store.keys.keyring import Keyring
from rdapctl.store.paths import StatePaths
from tests.support import FIXTURES, KEY, StepClock, loopback_profiles, render_text

runner = CliRunner()

# Terminal-controlling text: window title, OSC 8 link, OSC 52 clipboard write, screen
# clear, colour, C1 CSI/OSC, NEL, bidi override/isolate/marks, zero-width and tag
# characters, a lone surrogate, line separators, NUL, BEL, backspace, CR, DEL.
HOSTILE = (
    "A\x1b]0;owned\x07B\x1b]8;;https://evil.example/\x1b\\C\x1b]52;c;ZXZpbA==\x07"
    "\x1b[2J\x1b[31mD\x9b31mE\x9d0;t\x9cF\x85G\u202eH\u2066I\u200fJ\u200bK\ufeffL"
    "\U000e0041M\ud800N\u2028O\x00P\x08Q\rR\x7fS"
)
# The same without the lone surrogate (a JSON copy compared byte for byte).
HOSTILE_UTF8 = HOSTILE.replace("\ud800", "")
# Rich markup and emoji codes: must be shown as typed, never styled, linked or replaced.
MARKUP = "[bold]x[/bold] [link=https://evil.example/]y[/link] :smile:"

# The categories rdapctl.core.termtext makes visible: nothing of them may reach the terminal
# raw (newline excepted: it ends rdapctl's own lines).
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Rich's own styling (SGR) when colour is on; anything else starting with ESC is data.
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def assert_terminal_safe(out: str) -> None:
    """No ESC, C0/C1 control, bidi, zero-width, tag, surrogate or separator character."""
    bad = sorted({f"U+{ord(ch):04X}" for ch in out if ch != "\n" and _is_hidden(ch)})
    assert not bad, f"raw characters reached the terminal: {bad}"


def _is_hidden(ch: str) -> bool:
    return unicodedata.category(ch) in _HIDDEN


def assert_shows_escapes(out: str) -> None:
    """The hostile characters are shown as readable escapes, not dropped silently."""
    for escape in ("\\x1b", "\\x9b", "\\u202e", "\\u200b", "\\U000e0041"):
        assert escape in out, escape


@pytest.fixture(autouse=True)
def plain_wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """No colour (rich then writes no escape sequence of its own) and lines wide enough
    that tables do not wrap the values the tests look for."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "2000")


def invoke(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


# --- planting -------------------------------------------------------------------------


def plant_audit(
    home: Path,
    records: list[dict[str, Any]],
    *,
    actor: str = "alice",
    host: str = "ws1",
    tenant: str = "default",
) -> None:
    """Write records through the real audit API, with the per-process fields (actor,
    host) chosen by the test: what another account writing in the folder could do."""
    t = Tenant(name=tenant)
    fields = {"tenant": tenant, "actor": actor, "host": host, "command": "lookup"}
    context = AuditContext(tenant, t.fingerprint(), MappingProxyType(fields))
    paths = StatePaths.from_env({"RDAPCTL_HOME": str(home)})
    # The tenant has a keyring (audit data without one is a lost keyring: exit 9).
    Keyring.open(paths, tenant, {})
    log = AuditLog(
        paths,
        t,
        KEY,
        command="lookup",
        clock=StepClock(time.time()),
        context=context,
    )
    for fields_ in records:
        log.append("lookup", fields_)


def plant_bootstrap(
    home: Path, *, url: str = "https://rdap.example.net/", publication: str = "2030-01-01"
) -> None:
    """An "updated" dns registry copy where ``rdapctl bootstrap`` looks for one."""
    folder = home / "bootstrap"
    folder.mkdir(parents=True, exist_ok=True)
    doc = {
        "version": "1.0",
        "publication": publication,
        "description": "planted",
        "services": [[["example"], [url]]],
    }
    (folder / "dns.json").write_text(json.dumps(doc), encoding="utf-8")


# --- audit ----------------------------------------------------------------------------


def test_audit_show_table_shows_planted_fields_as_escapes(rdapctl_home: Path) -> None:
    """Query, reason, URL path, actor, host, status and source of planted records are
    shown with visible escapes, and their markup literally."""
    plant_audit(
        rdapctl_home,
        [
            {"query": MARKUP, "status": HOSTILE, "source": MARKUP},
            {"reason": HOSTILE[:50], "status": "denied"},
            {"url_path": "/domain/" + HOSTILE[:40], "status": "ok"},
        ],
        actor=HOSTILE[:40],
        host=HOSTILE,
    )
    out = invoke("audit", "show", "-o", "text").stdout
    assert_terminal_safe(out)
    assert_shows_escapes(out)
    assert MARKUP in out
    assert "/domain/A\\x1b]0;owned\\x07B" in out


def test_audit_show_json_keeps_records_exactly(rdapctl_home: Path) -> None:
    """JSONL output is data for programs: the planted text comes back unchanged."""
    plant_audit(rdapctl_home, [{"query": HOSTILE_UTF8 + MARKUP}], actor=HOSTILE_UTF8)
    out = invoke("audit", "show", "-o", "json").stdout
    # JSON lines end at "\n" only: str.splitlines() would also split at U+0085/U+2028.
    records = [json.loads(line) for line in out.split("\n") if line]
    planted = [r for r in records if r.get("query") == HOSTILE_UTF8 + MARKUP]
    assert planted and planted[0]["actor"] == HOSTILE_UTF8


def test_audit_verify_and_repair_keep_a_planted_file_name_on_one_line(
    rdapctl_home: Path,
) -> None:
    """A planted day file whose name ends in a newline cannot start lines of its own in
    the verify report, its stderr summary, or the repair message."""
    Keyring.open(StatePaths.from_env({"RDAPCTL_HOME": str(rdapctl_home)}), "default", {})
    folder = rdapctl_home / "audit" / "default"
    folder.mkdir(parents=True)
    (folder / "2026-11-25.jsonl\n").write_bytes(b'{"a":1}\nnot json\n{"torn')
    result = runner.invoke(app, ["audit", "verify", "-o", "text"])
    assert result.exit_code == 10
    assert_terminal_safe(result.output.replace("\n", ""))
    assert "  2026-11-25.jsonl\\n:2: invalid_json: line is not a JSON object" in result.stdout
    assert not any(line.startswith(":") for line in result.output.splitlines())
    # Not only a torn tail: repair changes nothing and says where, on one line.
    repaired = invoke("audit", "repair")
    code, out, err = repaired.exit_code, repaired.stdout, repaired.stderr
    assert code == 10
    assert "2026-11-25.jsonl\\n:1: bad_mac" in err
    assert len(err.splitlines()) == 2  # error, hint
    assert not any(line.startswith(":") for line in (out + err).splitlines())


_PIECES = [
    "\x1b]0;owned\x07",
    "\x1b]8;;https://evil.example/\x1b\\",
    "\x1b]52;c;ZXZpbA==\x07",
    "\x1b[2J",
    "\x1b[31m",
    "\x1bP+q\x1b\\",
    "\x9b31m",
    "\x9d0;t\x9c",
    "\x85",
    "\x00",
    "\x07",
    "\x08",
    "\r",
    "\x7f",
    "\u202e",
    "\u202d",
    "\u2066",
    "\u2069",
    "\u200e",
    "\u200f",
    "\u061c",
    "\u200b",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u00ad",
    "\U000e0001",
    "\U000e0041",
    "\U000e007f",
    "\ud800",
    "\udfff",
    "\u2028",
    "\u2029",
    "[bold]",
    "[/bold]",
    "[/]",
    "[link=https://evil.example/]",
    "[/link]",
    "[red on white]",
    ":smile:",
    ":warning:",
    "\\",
    "[",
    "]",
    "x",
    "é",
    "日本",
    " ",
    "\n",
    "\t",
]
# Hostile strings: known attack pieces, random hidden characters, and random text.
hostile_text = st.lists(
    st.one_of(
        st.sampled_from(_PIECES),
        st.text(st.characters(categories=("Cc", "Cf", "Cs", "Zl", "Zp")), max_size=3),
        st.text(max_size=4),
    ),
    min_size=1,
    max_size=8,
).map("".join)
# Printable markup only (no spaces): must appear in the output exactly as sent.
markup_text = (
    st.lists(
        st.sampled_from(["[bold]", "[/bold]", "[/]", "[link=https://e.example/]", ":smile:"])
        | st.sampled_from(["x", "[", "]", "\\", ":", "[red]", "[/red]", ":red_heart:"]),
        min_size=1,
        max_size=5,
    )
    .map("".join)
    .filter(lambda s: len(s) <= 50)
)


@settings(max_examples=25)
@given(values=st.lists(hostile_text, min_size=7, max_size=7))
def test_audit_show_never_prints_hostile_record_text_raw(
    rdapctl_home: Path, values: list[str]
) -> None:
    """Whatever a planted record holds, the audit table stays terminal-safe."""
    shutil.rmtree(rdapctl_home / "audit", ignore_errors=True)
    query, reason, path, status, source, actor, host = values
    plant_audit(
        rdapctl_home,
        [
            {"query": query, "status": status, "source": source},
            {"reason": reason},
            {"url_path": path},
        ],
        actor=actor,
        host=host,
    )
    out = invoke("audit", "show", "-o", "text").stdout
    assert_terminal_safe(out)


@settings(max_examples=25)
@given(text=markup_text)
def test_audit_show_prints_markup_literally(rdapctl_home: Path, text: str) -> None:
    """Rich markup and emoji codes in a record are shown as typed."""
    shutil.rmtree(rdapctl_home / "audit", ignore_errors=True)
    plant_audit(rdapctl_home, [{"query": text}], actor=text)
    out = invoke("audit", "show", "-o", "text").stdout
    assert out.count(text) >= 2


# --- bootstrap ------------------------------------------------------------------------


def test_bootstrap_status_shows_a_planted_publication_as_escapes(rdapctl_home: Path) -> None:
    """A planted copy's publication is shown with visible escapes; JSON keeps it."""
    plant_bootstrap(rdapctl_home, publication=HOSTILE + MARKUP)
    out = invoke("bootstrap", "status", "-o", "text").stdout
    assert_terminal_safe(out)
    assert_shows_escapes(out)
    assert MARKUP in out
    assert "updated" in out

    plant_bootstrap(rdapctl_home, publication=HOSTILE_UTF8 + MARKUP)
    rows = json.loads(invoke("bootstrap", "status", "-o", "json").stdout)["registries"]
    assert rows[0]["publication"] == HOSTILE_UTF8 + MARKUP


def test_bootstrap_show_quotes_a_planted_server_url_safely(rdapctl_home: Path) -> None:
    """Server URLs from a planted copy are shown as escapes, markup literally."""
    plant_bootstrap(rdapctl_home, url="https://rdap.example.net/" + HOSTILE + MARKUP + "/")
    out = invoke("bootstrap", "show", "a.example", "-o", "text").stdout
    assert_terminal_safe(out)
    assert_shows_escapes(out)
    assert MARKUP in out
    assert "server:  https://rdap.example.net/A\\x1b]0;owned\\x07B" in out


def test_bootstrap_update_shows_a_mirrors_publication_safely(
    httpserver: HTTPServer, rdapctl_home: Path
) -> None:
    """A mirror sending a hostile publication date: the update report shows escapes."""
    loopback_profiles(rdapctl_home, httpserver.port)
    for name in ("dns", "ipv4", "ipv6", "asn", "object-tags"):
        doc = json.loads((FIXTURES / "bootstrap" / f"{name}.json").read_bytes())
        doc["publication"] = HOSTILE_UTF8 + MARKUP
        httpserver.expect_request(f"/rdap/{name}.json").respond_with_json(doc)
    result = runner.invoke(
        app, ["bootstrap", "update", "--source", httpserver.url_for("/rdap/"), "-o", "text"]
    )
    assert result.exit_code == 0, result.output
    assert_terminal_safe(result.stdout)
    assert result.stdout.count(MARKUP) == 5
    assert "\\x1b]0;owned\\x07" in result.stdout


# --- cache, keys, doctor --------------------------------------------------------------


def test_cache_stats_survives_planted_entries_with_impossible_times(rdapctl_home: Path) -> None:
    """Entries another account planted with times that are no date (NaN, 1e300) show as
    "?" in the table instead of stopping the command."""
    import diskcache

    assert invoke("cache", "stats", "-o", "text").exit_code == 0  # creates the cache
    store = diskcache.Cache(str(rdapctl_home / "cache" / "default"))
    times = struct.pack(">dd", float("nan"), 1e300)
    store.set(b"k" * 32, b"RC\x01\x00\x00" + times + b"{}")
    store.close()
    result = invoke("cache", "stats", "-o", "text")
    assert result.exit_code == 0
    assert_terminal_safe(result.stdout)
    row = next(line for line in result.stdout.splitlines() if "default" in line)
    assert "?" in row


@pytest.fixture
def hostile_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state folder whose own name holds escapes, bidi, zero-width and markup (a
    folder name is text another account may choose)."""
    home = tmp_path / "h\x1b]0;owned\x07\u202e\u200b[bold]x[/bold] :smile:"
    monkeypatch.setenv("RDAPCTL_HOME", str(home))
    return home


def test_keys_status_shows_the_keyring_path_safely(hostile_home: Path) -> None:
    """keys status quotes the keyring path: escapes visible, markup literal."""
    out = invoke("keys", "status", "-o", "text").stdout
    assert_terminal_safe(out)
    assert "h\\x1b]0;owned\\x07\\u202e\\u200b[bold]x[/bold] :smile:" in out
    assert "not wrapped (no master key)" in out


def test_doctor_quotes_planted_profiles_and_paths_safely(hostile_home: Path) -> None:
    """doctor messages quote the profiles file (a planted unknown key) and paths."""
    hostile_home.mkdir(parents=True)
    (hostile_home / "profiles.toml").write_text(
        '[tenants.lab]\n"k\\u001b]0;t\\u0007\\u202e[bold]y[/bold]" = 1\n', encoding="utf-8"
    )
    result = runner.invoke(app, ["doctor", "--format", "text"])
    assert result.exit_code == 3
    assert_terminal_safe(result.stdout)
    assert "[bold]y[/bold]" in result.stdout
    assert "h\\x1b]0;owned\\x07\\u202e" in result.stdout


# --- policy and profiles --------------------------------------------------------------


def test_policy_explain_shows_planted_servers_and_queries_safely(rdapctl_home: Path) -> None:
    """policy explain quotes the server from a planted bootstrap copy (on 127.0.0.1:
    nothing is resolved elsewhere) and rule texts: escapes visible, markup literal."""
    plant_bootstrap(rdapctl_home, url="http://127.0.0.1:9/" + HOSTILE + MARKUP + "/")
    out = invoke("policy", "explain", "a.example", "-o", "text").stdout
    assert_terminal_safe(out)
    assert_shows_escapes(out)
    assert MARKUP in out
    assert "would send   no" in out


def test_profile_list_and_show_print_planted_text_safely(rdapctl_home: Path) -> None:
    """A display name with escapes and markup: list shows escapes and literal markup;
    show (TOML) writes TOML escapes, so the output still loads to the same value."""
    name = HOSTILE_UTF8.replace("\x00", "") + MARKUP
    rdapctl_home.mkdir(parents=True)
    document = tomli_w.dumps({"tenants": {"lab": {"display_name": name}}})
    (rdapctl_home / "profiles.toml").write_text(document, encoding="utf-8")
    listed = invoke("profile", "list", "-o", "text").stdout
    assert_terminal_safe(listed)
    assert_shows_escapes(listed)
    assert MARKUP in listed

    shown = invoke("profile", "show", "lab").stdout
    assert_terminal_safe(shown)
    assert tomllib.loads(shown)["tenants"]["lab"]["display_name"] == name
    as_json = json.loads(invoke("profile", "show", "lab", "-o", "json").stdout)
    assert as_json["display_name"] == name


# --- the lookup view ------------------------------------------------------------------


def _jcard(*props: list[Any]) -> list[Any]:
    return ["vcard", [["version", {}, "text", "4.0"], *props]]


def _hostile_answer(v: list[str]) -> dict[str, Any]:
    """A domain answer with hostile text in nearly every member a view shows."""
    entity = {
        "objectClassName": "entity",
        "handle": v[0],
        "roles": [v[1], "registrar"],
        "publicIds": [{"type": "IANA Registrar ID", "identifier": v[2]}],
        "vcardArray": _jcard(
            ["fn", {}, "text", v[3]],
            ["org", {}, "text", v[4]],
            ["email", {}, "text", v[5]],
            ["tel", {"type": ["voice"]}, "uri", "tel:" + v[6]],
            ["adr", {"label": v[7] + "\n" + v[8], "cc": v[9]}, "text", ["", "", "", "", "", ""]],
            ["contact-uri", {}, "uri", v[10]],
        ),
        "entities": [{"handle": v[11], "roles": [v[12]], "entities": [{"handle": v[13]}]}],
    }
    return {
        "objectClassName": "domain",
        "ldhName": v[14],
        "unicodeName": v[15],
        "handle": v[16],
        "status": [v[17], v[18]],
        "events": [{"eventAction": v[19], "eventDate": v[20], "eventActor": v[21]}],
        "entities": [entity],
        "nameservers": [{"ldhName": v[22], "ipAddresses": {"v4": [v[23]], "v6": [v[24]]}}],
        "secureDNS": {"delegationSigned": v[25]},
        "notices": [{"title": v[26], "description": [v[27], v[28]]}],
        "remarks": [{"title": v[29], "description": v[30]}],
        "links": [{"rel": v[31], "href": v[32]}],
        "redacted": [{"name": {"type": v[33]}, "reason": {"description": v[34]}}],
        v[35]: v[36],
    }


def _hostile_envelope(v: list[str]) -> dict[str, Any]:
    return {
        "query": v[37],
        "type": v[38],
        "tenant": v[39],
        "status": "ok",
        "source": "cache",
        "age_s": 60,
        "server": v[40],
        "response": _hostile_answer(v),
        "referrals": [
            {
                "url": v[41],
                "status": v[42],
                "response": {v[43] + "SearchResults": [{"ldhName": v[44]}], "records": []},
                "error": {"code": v[45], "message": v[46], "hint": v[47]},
            },
            {"url": v[48], "response": {"errorCode": 404, "title": v[49], "description": [v[0]]}},
        ],
        "policy": {"redacted_fields": [v[1]], "residency": {"region": v[2], "action": v[3]}},
        "error": {"code": v[4], "message": v[5], "hint": v[6]},
    }


_render = render_text


def test_lookup_view_shows_hostile_server_text_safely() -> None:
    """A server answer with hostile text everywhere: no raw control reaches the terminal,
    invisible characters show as escapes, and markup stays literal, in colour too."""
    values = [HOSTILE + str(i) for i in range(50)]
    values[14] = MARKUP
    out = _render(_hostile_envelope(values), color=False)
    assert_terminal_safe(out)
    assert "\\u200b" in out and "\\U000e0041" in out
    assert MARKUP in out
    colored = _render(_hostile_envelope(values), color=True)
    assert_terminal_safe(_SGR.sub("", colored))
    assert MARKUP in _SGR.sub("", colored)


@settings(max_examples=40)
@given(values=st.lists(hostile_text, min_size=50, max_size=50))
def test_lookup_view_never_prints_hostile_text_raw(values: list[str]) -> None:
    """Whatever strings a server puts in an answer, the view stays terminal-safe; with
    colour on, rich's own SGR styling is the only escape sequence written."""
    env = _hostile_envelope(values)
    assert_terminal_safe(_render(env, color=False))
    assert_terminal_safe(_SGR.sub("", _render(env, color=True)))


@settings(max_examples=40)
@given(text=markup_text)
def test_lookup_view_prints_markup_literally(text: str) -> None:
    """Markup and emoji codes a server sends are printed as sent, never applied."""
    env = {
        "query": text,
        "status": "ok",
        "response": {"objectClassName": "domain", "ldhName": text, "handle": text},
    }
    out = _render(env, color=False)
    assert out.count(text) >= 3
    colored = _SGR.sub("", _render(env, color=True))
    assert colored.count(text) >= 3
