"""Profiles files stay cheap and never crash: size, nesting, tenant count, tenant names.

Every case goes through the CLI as a user meets it (``profile validate``, ``doctor``,
``lookup``): a finding and exit 3, never exit 1 or a traceback.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from rdapctl.cli import app
from rdapctl.core.errors import ConfigError
from rdapctl.policy.tenant import is_tenant_name
from rdapctl.profiles.limits import MAX_NESTING, MAX_PROFILE_BYTES, MAX_TENANTS
from rdapctl.profiles.schema import PROFILE_SPEC
from rdapctl.profiles.spec import Map, Spec, Table
from rdapctl.store.keys.keyring import Keyring
from rdapctl.store.paths import StatePaths

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def write(home: Path, text: str | bytes) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "profiles.toml"
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def refused_everywhere(path: Path, needle: str) -> None:
    """validate, doctor and lookup all exit 3 and say ``needle``; no traceback."""
    code, out, err = run("profile", "validate", str(path))
    assert code == 3, (out, err)
    assert needle in out
    code, out, err = run("profile", "validate", str(path), "--format", "json")
    assert code == 3
    assert any(needle in f["message"] for f in json.loads(out))
    code, out, err = run("doctor")
    assert code == 3, (out, err)
    assert needle in out
    code, out, err = run("lookup", "example.com", "-o", "json")
    assert code == 3, (out, err)
    envelope = json.loads(out)
    assert envelope["error"]["exit_code"] == 3
    assert needle in envelope["error"]["message"]
    for text in (out, err):
        assert "Traceback" not in text and "RecursionError" not in text


# --- size -----------------------------------------------------------------------------


def test_a_5_mb_profiles_file_is_refused(rdapctl_home: Path) -> None:
    path = write(rdapctl_home, b"# padding\n" * (5 * 1024 * 1024 // 10))
    refused_everywhere(path, "larger than 4 MB")


def test_the_size_limit_is_exactly_4_mb(rdapctl_home: Path) -> None:
    """A file of exactly 4 MB is read; one byte more is refused."""
    head = b'default_tenant = "lab"\n[tenants.lab]\n'
    pad = MAX_PROFILE_BYTES - len(head)
    path = write(rdapctl_home, head + b"#" * (pad - 1) + b"\n")
    assert path.stat().st_size == MAX_PROFILE_BYTES
    code, out, _ = run("profile", "validate", str(path))
    assert code == 0, out
    path.write_bytes(path.read_bytes() + b"\n")
    code, out, _ = run("profile", "validate", str(path))
    assert code == 3
    assert f"({MAX_PROFILE_BYTES + 1} bytes)" in out


# --- nesting ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("x = " + "[" * 3000 + "]" * 3000 + "\n", "levels of [ ] and { }"),
        ("x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n", "levels of [ ] and { }"),
        (
            "[tenants.lab.security]\nredact_fields = " + "[" * 500 + "\n",
            "levels of [ ] and { }",
        ),
        ("x" + ".a" * 100_000 + " = 1\n", "more than 5 parts"),
        ("[x" + ".a" * 100_000 + "]\n", "more than 5 parts"),
    ],
    ids=["arrays", "inline-tables", "unclosed", "dotted-key", "header"],
)
def test_deep_nesting_is_a_finding_not_a_crash(rdapctl_home: Path, text: str, needle: str) -> None:
    path = write(rdapctl_home, text)
    refused_everywhere(path, needle)
    _, out, _ = run("profile", "validate", str(path))
    assert re.search(r"profiles\.toml:\d:\d+: error: ", out)  # line and column


def _depth(spec: Spec) -> int:
    """Levels of tables and arrays below ``spec`` (the deepest a valid file nests)."""
    if isinstance(spec, Table):
        return 1 + max((_depth(s) for s in spec.fields.values()), default=0)
    if isinstance(spec, Map):
        return 1 + _depth(spec.value)
    item = getattr(spec, "item", None)
    return 1 + _depth(item) if isinstance(item, Spec) else 0


def test_the_nesting_limit_is_the_depth_of_the_schema(rdapctl_home: Path) -> None:
    """The deepest valid file is accepted, written inline or as dotted keys."""
    assert _depth(PROFILE_SPEC) - 1 == MAX_NESTING  # the document itself is no level
    pin = "sha256/" + "A" * 43 + "="
    inline = (
        'default_tenant = "lab"\n'
        "tenants = {lab = {tls = {certificate_pinning = true, "
        f'pins = {{"rdap.example" = ["{pin}"]}}}}}}}}\n'
    )
    dotted = f'default_tenant = "lab"\ntenants.lab.tls.pins."rdap.example" = ["{pin}"]\n'
    for text in (inline, dotted):
        path = write(rdapctl_home, text)
        code, out, _ = run("profile", "validate", str(path))
        assert code == 0, out


_OPENERS = st.sampled_from(["[", "{a = ", "{", "[{b = ", "x.", "tenants.", '"q".'])


@given(
    openers=st.lists(_OPENERS, min_size=0, max_size=40),
    closers=st.integers(min_value=0, max_value=40),
    header=st.booleans(),
)
def test_any_nesting_shape_gives_exit_0_or_3(
    rdapctl_home: Path, openers: list[str], closers: int, header: bool
) -> None:
    """Random nesting depth and shape: validate and lookup exit 0 or 3 (lookup's
    --offline miss is 7), never 1, never a traceback."""
    body = "".join(openers) + "1" + "]}" * (closers // 2) + ("]" if closers % 2 else "")
    text = ("[tenants.lab]\n" if header else "") + "k = " + body + "\n"
    path = write(rdapctl_home, text)
    code, out, err = run("profile", "validate", str(path))
    assert code in (0, 3), (text, out, err)
    code, out, err = run("lookup", "example.com", "--offline", "-o", "json")
    assert code in (3, 7), (text, out, err)
    json.loads(out)
    assert "Traceback" not in out + err


# --- tenant count ---------------------------------------------------------------------


def test_more_tenants_than_the_limit_is_a_finding(rdapctl_home: Path) -> None:
    text = "".join(f"[tenants.t{i}]\n" for i in range(MAX_TENANTS + 1))
    path = write(rdapctl_home, text)
    refused_everywhere(path, f"at most {MAX_TENANTS} are allowed")


# --- tenant names ---------------------------------------------------------------------


def _message_for(rdapctl_home: Path, name: str) -> str:
    key = json.dumps(name)
    path = write(rdapctl_home, f'default_tenant = "ok"\n[tenants.ok]\n[tenants.{key}]\n')
    code, out, _ = run("profile", "validate", "--strict", str(path), "--format", "json")
    assert code == 3
    (finding,) = json.loads(out)
    return str(finding["message"])


def test_a_trailing_newline_is_an_invalid_tenant_name(rdapctl_home: Path) -> None:
    """``[tenants."evil\\n"]`` is refused like any other invalid name, by validate and by
    lookup, and the text output stays one line per finding."""
    assert _message_for(rdapctl_home, "evil\n") == "invalid tenant name 'evil\\n'"
    assert _message_for(rdapctl_home, "Evil") == "invalid tenant name 'Evil'"
    path = write(rdapctl_home, '[tenants."evil\\n"]\n')
    code, out, _ = run("profile", "validate", "--strict", str(path))
    assert code == 3
    assert out.splitlines()[0].endswith(
        "tenants.\"evil\\n\": invalid tenant name 'evil\\n' (expected a name matching "
        "[a-z0-9][a-z0-9_-]{0,62} (lower-case letters, digits, '_' or '-', "
        "at most 63 characters))"
    )
    code, out, _ = run("lookup", "example.com", "-o", "json")
    assert code == 3
    assert json.loads(out)["error"]["message"].endswith("invalid tenant name 'evil\\n'")
    # Selected by name, without a profiles file: the same message as for "Evil".
    path.unlink()
    for bad in ("evil\n", "Evil"):
        code, out, _ = run("lookup", "example.com", "-t", bad, "-o", "json")
        assert code == 3
        assert json.loads(out)["error"]["message"] == f"invalid tenant name {bad!r}"
    assert not (rdapctl_home / "keys").exists()


@given(st.text(alphabet="abz09_-\n\r\t .A/", max_size=8))
def test_every_tenant_name_check_agrees(name: str) -> None:
    """Keyring, state paths and the name check accept exactly the full matches."""
    expected = re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", name) is not None
    assert is_tenant_name(name) is expected
    paths = StatePaths(Path("/nonexistent"), Path("/nonexistent"), Path("/nonexistent"))
    for build in (paths.tenant_cache_dir, paths.tenant_audit_dir, paths.keyring_file):
        if expected:
            assert name in str(build(name))
        else:
            with pytest.raises(ConfigError):
                build(name)


def test_the_keyring_refuses_a_name_with_a_trailing_newline(rdapctl_home: Path) -> None:
    paths = StatePaths.from_env({"RDAPCTL_HOME": str(rdapctl_home)})
    with pytest.raises(ConfigError, match="invalid tenant name"):
        Keyring.open(paths, "evil\n", {})
    assert not (rdapctl_home / "keys").exists()
