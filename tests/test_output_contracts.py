"""Every machine-readable output of rdapctl fits the JSON Schema it ships (contract tests).

Each command with JSON output is run for real (a local RDAP server and IANA mirror on
127.0.0.1, the test fixtures) and every document it prints is validated with jsonschema
against ``rdapctl schema NAME``. ``OUTPUTS`` says which schema each command's JSON follows;
a command missing from it, or one that offers JSON with no schema, fails the suite.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from jsonschema import Draft202012Validator
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from rdapctl.cli import app
from rdapctl.cli.commands.schema import load_schema, schema_names
from tests.support import FIXTURES, load_fixture, loopback_profiles

runner = CliRunner()
AUTNUM = load_fixture("autnum/arin-as63311.json")
REGISTRIES = ("dns", "ipv4", "ipv6", "asn", "object-tags")
SCHEMA_DOCUMENT = "(a JSON Schema)"  # the output is itself a schema: the meta-schema checks it

# Every command -> the schema its JSON output follows; None: it prints no JSON of its own.
OUTPUTS: dict[str, str | None] = {
    "rdapctl lookup": "envelope",  # -o rdap prints the server's RFC 9083 JSON, not ours
    "rdapctl search domains": "envelope",  # type "search"; -o jsonl prints the results
    "rdapctl search nameservers": "envelope",
    "rdapctl search entities": "envelope",
    "rdapctl search ips": "envelope",
    "rdapctl search autnums": "envelope",
    "rdapctl search capabilities": "search-capabilities",
    "rdapctl batch": "envelope",  # one per line, with "line"
    "rdapctl check": "check",  # a report; with --list, the checks
    "rdapctl doctor": "doctor",
    "rdapctl bootstrap update": "bootstrap-update",
    "rdapctl bootstrap status": "bootstrap-status",
    "rdapctl bootstrap show": "bootstrap-show",
    "rdapctl profile validate": "profile-findings",
    "rdapctl profile list": "profile-list",
    "rdapctl profile show": "profile-show",
    "rdapctl profile init": None,
    "rdapctl profile schema": SCHEMA_DOCUMENT,
    "rdapctl policy explain": "policy-explain",
    "rdapctl cache stats": "cache-stats",
    "rdapctl cache clear": "cache-removal",
    "rdapctl cache purge": "cache-removal",
    "rdapctl keys status": "keys-status",
    "rdapctl keys init": "keys-init",
    "rdapctl keys rotate": "keys-rotate",
    "rdapctl keys export": None,
    "rdapctl keys import": None,
    "rdapctl audit show": "audit-record",  # JSONL, one record per line
    "rdapctl audit verify": "audit-verify",
    "rdapctl audit path": None,
    "rdapctl audit prune": "audit-prune",
    "rdapctl audit export": "audit-record",  # JSONL, one record per line
    "rdapctl audit repair": None,
    "rdapctl schema": "schema-list",  # with NAME: the schema itself
    "rdapctl completions show": None,
    "rdapctl completions install": None,
}
# Shipped schemas that describe a file rather than a command's output.
FILE_SCHEMAS = {"profiles"}
# Outputs that are a JSON array and so cannot carry a "schema" member.
ARRAY_OUTPUTS = {"profile-findings"}
# Where "schema" is not the first member: batch lines start with "line" (--resume reads
# it), audit records are printed exactly as stored (members sorted, under their MAC).
SCHEMA_NOT_FIRST = {"rdapctl batch", "rdapctl audit show", "rdapctl audit export"}


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(
        load_schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def assert_fits(name: str, doc: Any, where: str) -> None:
    problems = [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in validator(name).iter_errors(doc)
    ]
    assert not problems, f"{where}: does not fit schema {name}: {problems[:5]}"


# --- a tenant that has done something --------------------------------------------------


def serve_registries(server: HTTPServer) -> None:
    for name in REGISTRIES:
        body = (FIXTURES / "bootstrap" / f"{name}.json").read_bytes()
        server.expect_request(f"/rdap/{name}.json").respond_with_data(
            body, content_type="application/json", headers={"ETag": f'"{name}-v1"'}
        )


@pytest.fixture
def lab(httpserver: HTTPServer, rdapctl_home: Path) -> HTTPServer:
    """Tenants lab (default) and other, both allowed to reach the local server; lab has
    looked AS63311 up twice (keyring, cache entry, audit records)."""
    port = httpserver.port
    other = f"""
[tenants.other]
[tenants.other.security]
allow_http = true
allow_private_ips = ["127.0.0.1/32"]
allowed_ports = [{port}]
"""
    loopback_profiles(
        rdapctl_home, port, extra='allowed_query_types = ["autnum", "domain"]\n' + other
    )
    httpserver.expect_request("/autnum/63311").respond_with_json(AUTNUM)
    httpserver.expect_request("/domain/nope.com").respond_with_json({"errorCode": 404}, status=404)
    serve_registries(httpserver)
    for _ in range(2):
        run("lookup", "AS63311", "--server", httpserver.url_for("/"), "-o", "json")
    return httpserver


def run(*args: str, stdin: str | None = None, codes: tuple[int, ...] = (0,)) -> str:
    result = runner.invoke(app, list(args), input=stdin)
    assert result.exit_code in codes, (args, result.exit_code, result.output)
    assert "Traceback" not in result.output
    return result.stdout


def one(*args: str, codes: tuple[int, ...] = (0,)) -> list[Any]:
    return [json.loads(run(*args, codes=codes))]


def lines(*args: str, stdin: str | None = None, codes: tuple[int, ...] = (0,)) -> list[Any]:
    return [json.loads(line) for line in run(*args, stdin=stdin, codes=codes).splitlines()]


# --- how to get each command's JSON output ---------------------------------------------

Runner = Callable[[HTTPServer, Path], list[Any]]


def _lookup(server: HTTPServer, _home: Path) -> list[Any]:
    base = server.url_for("/")
    docs = []
    for args, codes in (
        (["AS63311"], (0,)),  # ok, from the cache
        (["nope.com"], (6,)),  # not_found
        (["8.8.8.8"], (4,)),  # denied (query type not allowed)
        (["not a query"], (2,)),  # error
    ):
        docs += one("lookup", *args, "--server", base, "-o", "json", codes=codes)
    docs += one("lookup", "AS1", "--profiles", "/nonexistent.toml", "-o", "json", codes=(3,))
    return docs


ENTITY_SEARCH = load_fixture("search/arin-entitySearchResults-fn-arin.json")
REVERSE = """
[tenants.rev]
[tenants.rev.security]
allow_http = true
allow_private_ips = ["127.0.0.1/32"]
allowed_ports = [{port}]
allowed_query_types = ["search", "reverse_search"]
"""


def _search(kind: str, *search: str) -> Runner:
    """A search of ``kind`` answered with results, with none, refused by the tenant
    (lab may not search), by a profiles error, and a reverse search (tenant rev)."""

    def runner(server: HTTPServer, home: Path) -> list[Any]:
        base = server.url_for("/")
        member = {"domains": "domainSearchResults", "nameservers": "nameserverSearchResults"}
        results = ENTITY_SEARCH["entitySearchResults"][:3] if kind == "entities" else []
        page = {"rdapConformance": ["rdap_level_0"], member.get(kind, f"{kind}SearchResults"): []}
        if kind == "entities":
            page = ENTITY_SEARCH
        server.expect_request(f"/{kind}").respond_with_json(page)
        server.expect_request(f"/{kind}/reverse_search/entity").respond_with_json(
            {"rdapConformance": ["rdap_level_0", "reverse_search"], "entitySearchResults": results}
        )
        profiles = home / "profiles.toml"
        profiles.write_text(
            profiles.read_text() + REVERSE.format(port=server.port), encoding="utf-8"
        )
        docs: list[Any] = []
        common = ["--server", base, "-o", "json", "--limit", "5"]
        if search:
            docs += one("search", kind, *search, *common, "-t", "other", codes=(0, 6))
        docs += one("search", kind, *search or ["--entity-fn", "x"], *common, codes=(4,))
        docs += one(
            "search",
            kind,
            "--entity-handle",
            "H-1",
            "--role",
            "registrant",
            *common,
            "-t",
            "rev",
            codes=(0, 6),
        )
        docs += one(
            "search",
            kind,
            "--entity-fn",
            "x",
            *common,
            "--profiles",
            "/nonexistent.toml",
            codes=(3,),
        )
        return docs

    return runner


def _search_capabilities(server: HTTPServer, _home: Path) -> list[Any]:
    help_answer = load_fixture("help/afnic-help.json")
    assert isinstance(help_answer, dict)
    server.expect_request("/help").respond_with_json(
        {
            **help_answer,
            "rdapConformance": ["rdap_level_0", "paging", "subsetting", "reverse_search"],
            "reverse_search_properties": [
                {
                    "searchableResourceType": "domains",
                    "relatedResourceType": "entity",
                    "property": "fn",
                    "propertyPath": "$.entities[*].vcardArray[1][?(@[0]=='fn')][3]",
                }
            ],
            "subsetting_metadata": {
                "currentFieldSet": "full",
                "availableFieldSets": [
                    {"name": "brief", "default": False},
                    {"name": "full", "default": True, "description": "all"},
                ],
            },
        }
    )
    return one(
        "search", "capabilities", "--server", server.url_for("/"), "-t", "other", "-o", "json"
    )


def _check(server: HTTPServer, _home: Path) -> list[Any]:
    base = server.url_for("/")
    answer = FIXTURES / "rdap" / "autnum" / "arin-as63311.json"
    return (
        one("check", "AS63311", "--server", base, "-o", "json", codes=(0, 11))
        + one("check", "--file", str(answer), "--type", "autnum", "-o", "json", codes=(0, 11))
        + one("check", "--list", "-o", "json")
        + one("check", "8.8.8.8", "--server", base, "-o", "json", codes=(4,))
        + one("check", "AS1", "--profiles", "/nonexistent.toml", "-o", "json", codes=(3,))
    )


def _batch(server: HTTPServer, _home: Path) -> list[Any]:
    queries = "AS63311\nnope.com\n8.8.8.8\nnot a query\nsearch:ips --entity-fn x\nsearch:nope\n"
    return lines("batch", "-", "--no-progress", stdin=queries, codes=(0, 2, 4, 6, 7))


def _doctor(server: HTTPServer, _home: Path) -> list[Any]:
    return one("doctor", "--format", "json") + one(
        "doctor", "--format", "json", "-t", "other", codes=(0, 3, 9, 10)
    )


def _bootstrap_update(server: HTTPServer, _home: Path) -> list[Any]:
    return one("bootstrap", "update", "--source", server.url_for("/rdap/"), "-o", "json")


def _bootstrap_status(server: HTTPServer, _home: Path) -> list[Any]:
    embedded = one("bootstrap", "status", "-o", "json")
    run("bootstrap", "update", "--source", server.url_for("/rdap/"))
    return embedded + one("bootstrap", "status", "-o", "json")


def _bootstrap_show(server: HTTPServer, _home: Path) -> list[Any]:
    return one("bootstrap", "show", "example.com", "-o", "json") + one(
        "bootstrap", "show", "AS63311", "-o", "json"
    )


def _profile_validate(server: HTTPServer, home: Path) -> list[Any]:
    broken = home / "broken.toml"
    broken.write_text('[tenants.x]\nisolation = "loose"\nnope = 1\n', encoding="utf-8")
    return one("profile", "validate", "--format", "json") + one(
        "profile", "validate", str(broken), "--format", "json", codes=(3,)
    )


def _profile_list(server: HTTPServer, _home: Path) -> list[Any]:
    return one("profile", "list", "-o", "json")


def _profile_show(server: HTTPServer, _home: Path) -> list[Any]:
    example = Path(__file__).resolve().parent.parent / "profiles.example.toml"
    docs = one("profile", "show", "-o", "json") + one("profile", "show", "other", "-o", "json")
    for tenant in json.loads(run("profile", "list", "--profiles", str(example), "-o", "json"))[
        "tenants"
    ]:
        docs += one("profile", "show", tenant["tenant"], "--profiles", str(example), "-o", "json")
    return docs


def _policy_explain(server: HTTPServer, _home: Path) -> list[Any]:
    base = server.url_for("/")
    return (
        one("policy", "explain", "AS63311", "--server", base, "-o", "json")
        + one("policy", "explain", "8.8.8.8", "--server", base, "-o", "json")
        + one("policy", "explain", "example.com", "--server", "https://10.0.0.1/", "-o", "json")
    )


def _cache_stats(server: HTTPServer, _home: Path) -> list[Any]:
    return one("cache", "stats", "-o", "json") + one(
        "cache", "stats", "--all-tenants", "-o", "json"
    )


def _cache_removal(server: HTTPServer, _home: Path) -> list[Any]:
    return one("cache", "purge", "-o", "json") + one(
        "cache", "clear", "--all-tenants", "-o", "json"
    )


def _keys_status(server: HTTPServer, _home: Path) -> list[Any]:
    return one("keys", "status", "-o", "json")


def _keys_init(server: HTTPServer, _home: Path) -> list[Any]:
    return one("keys", "init", "-t", "other", "-o", "json")


def _keys_rotate(server: HTTPServer, _home: Path) -> list[Any]:
    return one("keys", "rotate", "-o", "json") + one("keys", "rotate", "--retire-old", "-o", "json")


def _audit_records(server: HTTPServer, _home: Path) -> list[Any]:
    run("cache", "clear")
    run("keys", "rotate")
    return lines("audit", "show", "-o", "json")


def _audit_export(server: HTTPServer, home: Path) -> list[Any]:
    run("cache", "purge")
    out = home / "export.jsonl"
    run("audit", "export", "--output", str(out))
    from_file = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return lines("audit", "export") + from_file


def _audit_verify(server: HTTPServer, home: Path) -> list[Any]:
    docs = one("audit", "verify", "-o", "json") + one(
        "audit", "verify", "--all-tenants", "-o", "json"
    )
    day = next((home / "audit" / "lab").glob("*.jsonl"))
    day.write_text(day.read_text(encoding="utf-8").replace('"lookup"', '"lookuq"', 1))
    return docs + one("audit", "verify", "-o", "json", codes=(10,))


def _audit_prune(server: HTTPServer, _home: Path) -> list[Any]:
    return one("audit", "prune", "-o", "json")


def _schema_list(server: HTTPServer, _home: Path) -> list[Any]:
    return one("schema", "-o", "json")


RUNNERS: dict[str, Runner] = {
    "rdapctl lookup": _lookup,
    "rdapctl search domains": _search("domains", "--name", "exa*.com"),
    "rdapctl search nameservers": _search("nameservers", "--ip", "192.0.2.1"),
    "rdapctl search entities": _search("entities", "--fn", "arin*"),
    "rdapctl search ips": _search("ips"),
    "rdapctl search autnums": _search("autnums"),
    "rdapctl search capabilities": _search_capabilities,
    "rdapctl batch": _batch,
    "rdapctl check": _check,
    "rdapctl doctor": _doctor,
    "rdapctl bootstrap update": _bootstrap_update,
    "rdapctl bootstrap status": _bootstrap_status,
    "rdapctl bootstrap show": _bootstrap_show,
    "rdapctl profile validate": _profile_validate,
    "rdapctl profile list": _profile_list,
    "rdapctl profile show": _profile_show,
    "rdapctl policy explain": _policy_explain,
    "rdapctl cache stats": _cache_stats,
    "rdapctl cache clear": _cache_removal,
    "rdapctl cache purge": _cache_removal,
    "rdapctl keys status": _keys_status,
    "rdapctl keys init": _keys_init,
    "rdapctl keys rotate": _keys_rotate,
    "rdapctl audit show": _audit_records,
    "rdapctl audit verify": _audit_verify,
    "rdapctl audit prune": _audit_prune,
    "rdapctl audit export": _audit_export,
    "rdapctl schema": _schema_list,
}


@pytest.mark.parametrize("command", sorted(RUNNERS))
def test_json_output_fits_its_schema(command: str, lab: HTTPServer, rdapctl_home: Path) -> None:
    """The command's real JSON output validates against the schema OUTPUTS names."""
    name = OUTPUTS[command]
    assert name is not None and name in schema_names(), command
    docs = RUNNERS[command](lab, rdapctl_home)
    assert docs, command
    for i, doc in enumerate(docs):
        where = f"{command} (document {i + 1})"
        assert_fits(name, doc, where)
        if name in ARRAY_OUTPUTS:
            continue
        assert doc["schema"] == 1, where
        assert command in SCHEMA_NOT_FIRST or next(iter(doc)) == "schema", where


# --- the schemas themselves, and the table above ----------------------------------------


def commands() -> dict[str, Any]:
    """Every leaf command by path ("rdapctl cache stats"), as click sees it."""
    root = typer.main.get_command(app)
    context = type(root.make_context("rdapctl", ["--help"], resilient_parsing=True))
    found: dict[str, Any] = {}

    def walk(cmd: Any, prefix: str, ctx: Any) -> None:
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                walk(sub, f"{prefix} {name}", context(sub, parent=ctx, info_name=name))
        else:
            found[prefix] = cmd

    walk(root, "rdapctl", context(root, info_name="rdapctl"))
    return found


def offers_json(command: Any) -> bool:
    """The command says (in its help or an option's) that it prints or writes JSON."""
    texts = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
    return any("json" in text.lower() for text in texts)


def test_every_command_is_in_the_table() -> None:
    """A new command must be added to OUTPUTS (with its schema, or None)."""
    assert set(commands()) == set(OUTPUTS)


def test_every_json_output_has_a_schema() -> None:
    """A command that offers JSON has a schema; one that does not, has none."""
    for path, command in commands().items():
        assert offers_json(command) == (OUTPUTS[path] is not None), path


def test_every_schema_of_the_table_is_shipped_and_run() -> None:
    """The schemas named in OUTPUTS exist; each command with one is run by the contract test;
    every shipped schema belongs to a command or describes a file."""
    named = {name for name in OUTPUTS.values() if name not in (None, SCHEMA_DOCUMENT)}
    assert named <= set(schema_names())
    assert set(schema_names()) == named | FILE_SCHEMAS
    assert set(RUNNERS) == {path for path, name in OUTPUTS.items() if name in named}


def test_every_shipped_schema_is_a_valid_described_schema() -> None:
    """Each schema is valid draft 2020-12, has an $id, a title and a description, and
    closes every object whose members are fixed (maps take a schema for their values)."""
    for name in schema_names():
        schema = load_schema(name)
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", name
        assert schema["title"] and "\n" not in schema["title"], name
        if name in FILE_SCHEMAS:
            continue
        assert schema["$id"] == f"https://rdapctl.invalid/schemas/{name}-1.json", name
        assert schema["description"], name
        assert open_objects(schema) == ({"(root)"} if name == "audit-record" else set()), name


def open_objects(node: Any, path: str = "") -> set[str]:
    """Where an object schema lists its members but lets others in."""
    found: set[str] = set()
    if isinstance(node, dict):
        rest = node.get("additionalProperties")
        if "properties" in node and rest is not False and not isinstance(rest, dict):
            found.add(path or "(root)")
        for key, value in node.items():
            if key == "if":  # a condition on members, not a description of an object
                continue
            found |= open_objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found |= open_objects(value, f"{path}/{i}")
    return found


def test_schema_lists_and_prints_every_schema() -> None:
    """`rdapctl schema` lists the names (text and JSON); `rdapctl schema NAME` prints each."""
    names = schema_names()
    assert len(names) >= 19
    listed = json.loads(run("schema", "-o", "json"))
    assert [row["name"] for row in listed["schemas"]] == names
    text = run("schema", "-o", "text").splitlines()
    assert [line.split()[0] for line in text] == names
    for name, line in zip(names, text, strict=True):
        assert line.split(maxsplit=1)[1] == load_schema(name)["title"]
    for name in names:
        assert json.loads(run("schema", name)) == load_schema(name)
    assert json.loads(run("profile", "schema")) == load_schema("profiles")


def test_an_unknown_schema_name_is_a_usage_error() -> None:
    """Exit 2 with one line that lists the names; nothing on stdout."""
    result = runner.invoke(app, ["schema", "nope"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"rdapctl: error: unknown schema 'nope' (one of: {', '.join(schema_names())})"
    ]
    assert runner.invoke(app, ["schema", "-o", "xml"]).exit_code == 2


def test_profile_show_schema_has_the_keys_of_a_tenant_table() -> None:
    """profile show -o json is a tenant table after defaults: the same keys as the profiles
    file schema's tenant, at every level, plus the name and derived values."""
    tenant = load_schema("profiles")["properties"]["tenants"]["additionalProperties"]
    shown = load_schema("profile-show")
    derived = {"schema", "name", "effective_cache_ttl_s", "effective_negative_ttl_s"}
    assert set(shown["properties"]) == set(tenant["properties"]) | derived | {"policy_fingerprint"}
    for key, sub in tenant["properties"].items():
        if "properties" in sub:
            assert set(shown["properties"][key]["properties"]) == set(sub["properties"]), key


FAILING = [
    ["cache", "stats"],
    ["cache", "clear"],
    ["cache", "purge"],
    ["keys", "status"],
    ["keys", "init"],
    ["keys", "rotate"],
    ["audit", "show"],
    ["audit", "verify"],
    ["audit", "prune"],
    ["policy", "explain", "AS1"],
    ["bootstrap", "show", "AS1"],
    ["bootstrap", "update"],
    ["profile", "list"],
    ["profile", "show"],
]


@pytest.mark.parametrize("args", FAILING, ids=" ".join)
def test_a_failed_command_prints_no_json(args: list[str], rdapctl_home: Path) -> None:
    """Only lookup and batch turn an error into JSON (the envelope); every other command
    that fails prints nothing on stdout, the error on stderr, and exits with its code."""
    broken = rdapctl_home / "broken.toml"
    rdapctl_home.mkdir(parents=True, exist_ok=True)
    broken.write_text("tenants = [\n", encoding="utf-8")
    result = runner.invoke(app, [*args, "--profiles", str(broken), "-o", "json"])
    assert result.exit_code == 3, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("rdapctl: error: ")
