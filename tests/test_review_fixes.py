"""Found by the review of issues 20-22: each test reproduces one finding."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rdapctl.cli import app
from rdapctl.policy.tenant import TeamSettings
from rdapctl.store.team.backend import shown_url
from rdapctl.store.team.cache import redis_counter as counter
from rdapctl.store.team.inspect import is_sealed as sealed
from tests.support import RDAP_FIXTURES

runner = CliRunner()
AUTNUM = RDAP_FIXTURES / "autnum" / "arin-as63311.json"


def test_a_status_line_with_a_unicode_digit_is_no_crash(tmp_path: Path) -> None:
    headers = tmp_path / "h.txt"
    headers.write_bytes(b"HTTP/1.1 \xc2\xb200 OK\r\nContent-Type: application/rdap+json\r\n\r\n")
    args = ["check", "--file", str(AUTNUM), "--type", "autnum", "--headers", str(headers)]
    result = runner.invoke(app, [*args, "-o", "json", "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["http_status"] is None


@pytest.mark.parametrize("option", ["--file", "--headers"])
def test_a_device_is_read_within_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str
) -> None:
    """/dev/zero has no size to check first: the read itself stops at the limit."""
    import rdapctl.app.check

    monkeypatch.setattr(rdapctl.app.check, "MAX_FILE_BYTES", 4096)
    file_args = ["--file", "/dev/zero"] if option == "--file" else ["--file", str(AUTNUM)]
    extra = ["--headers", "/dev/zero"] if option == "--headers" else []
    result = runner.invoke(app, ["check", *file_args, "--type", "autnum", *extra, "-o", "json"])
    assert result.exit_code == 3
    assert "larger than 4,096 bytes" in json.loads(result.stdout)["error"]["message"]


def test_a_redis_counter_of_any_bytes_is_no_crash() -> None:
    assert counter(b"12") == 12
    assert counter(None) == 0
    for planted in (b"abc", b"1.5", b"-3", b"9" * 5000, b"\xff"):
        assert counter(planted) is None


def test_a_password_where_the_user_name_goes_is_not_shown() -> None:
    settings = TeamSettings(backend="redis://pw-SECRET@127.0.0.1:6379/0")
    assert shown_url(settings) == "redis://127.0.0.1:6379/0"
    assert shown_url(TeamSettings(backend="rediss://cache.internal:6380/1")) == (
        "rediss://cache.internal:6380/1"
    )


def test_a_ciphertext_that_starts_like_json_is_still_sealed() -> None:
    """A stream entry starts with a random nonce: ``{`` one time in 128 (this flaked)."""
    for first in (b"{", b"[", b" {"):
        assert sealed(first + os.urandom(200))
    assert not sealed(b'{"query": "example.com"}')
    assert not sealed(b"x" * 30)


def test_a_bad_batch_search_line_keeps_a_person_out_of_the_trail(
    tmp_path: Path, rdapctl_home: Path
) -> None:
    from tests.hostile import audit_records

    rdapctl_home.mkdir(parents=True, exist_ok=True)
    lines = tmp_path / "in.txt"
    lines.write_text("search:domains --entity-email jane.doe@example.com --bogus\n")
    result = runner.invoke(app, ["batch", str(lines), "--no-progress"])
    assert result.exit_code == 2
    [record] = [r for r in audit_records(rdapctl_home, "default") if r["event"] == "search"]
    assert record["query_hashed"] is True
    trail = "".join(p.read_text() for p in (rdapctl_home / "audit").rglob("*.jsonl"))
    assert "jane.doe" not in trail
