"""``rdapctl search`` against hostile paging: whatever a server puts in
``paging_metadata`` (next links to other origins, schemes, relative or broken hrefs,
odd totals) or in place of the results array, the search ends in one envelope, never
asks another origin, and prints nothing a terminal would act on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from rdapctl.cli import app
from tests.hostile import UNSAFE
from tests.search_pages import entity_results, real_conformance, real_notices
from tests.support import load_fixture, loopback_profiles, stop_server

runner = CliRunner()
RESULTS = entity_results()[:5]


@pytest.fixture
def other_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        stop_server(server)


class HostilePages:
    """Answers every request for /entities and /domains with the current example's page."""

    def __init__(self, server: HTTPServer) -> None:
        self.page: Any = None
        self.requests: list[str] = []
        server.expect_request("/entities").respond_with_handler(self.handle)
        server.expect_request("/domains").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.requests.append(request.full_path)
        return Response(json.dumps(self.page), status=200, content_type="application/rdap+json")


def hostile_hrefs(lab: HTTPServer, other: HTTPServer) -> list[str]:
    """Next links a server might send; every host named is on this machine."""
    here = lab.url_for("/entities")
    return [
        here + "?fn=arin*&cursor=5",
        here + "?fn=arin*",  # the first page again
        "?fn=arin*&cursor=5",  # relative
        "/entities?cursor=5",
        other.url_for("/entities") + "?cursor=5",  # another port
        here.replace("localhost", "127.0.0.2") + "?cursor=5",  # another host
        here.replace("http:", "https:"),  # another scheme
        "//127.0.0.1:9/entities",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://",
        "",
        " \t",
        here + "?cursor=\x1b[31m",
        "http://[::1",
    ]


def hrefs(lab: HTTPServer, other: HTTPServer) -> st.SearchStrategy[Any]:
    listed = st.sampled_from(hostile_hrefs(lab, other))
    return st.one_of(
        listed,
        listed,
        listed,
        st.text(max_size=40),
        st.integers(),
        st.none(),
        st.lists(st.text(max_size=5), max_size=2),
    )


def paging(lab: HTTPServer, other: HTTPServer) -> st.SearchStrategy[Any]:
    link = st.fixed_dictionaries(
        {
            "rel": st.sampled_from(["next", "next", "next", "NEXT", "prev", None, 1]),
            "href": hrefs(lab, other),
        }
    )
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10))
    return st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "links": st.one_of(st.lists(st.one_of(link, scalars), max_size=3), scalars),
                "totalCount": st.one_of(scalars, st.floats(allow_nan=True)),
            },
        ),
        scalars,
        st.lists(scalars, max_size=2),
    )


def results() -> st.SearchStrategy[Any]:
    real = st.lists(st.sampled_from(RESULTS), max_size=5)
    odd = st.one_of(
        st.none(),
        st.text(max_size=10),
        st.integers(),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    )
    return st.one_of(real, st.lists(st.one_of(st.sampled_from(RESULTS), odd), max_size=4), odd)


def _both_servers(home: Path, lab: HTTPServer, other: HTTPServer) -> None:
    """The tenant may reach both servers: only the origin check keeps paging on one."""
    profiles = loopback_profiles(home, lab.port, extra="requests_per_second = 1000")
    text = profiles.read_text().replace(
        f"allowed_ports = [{lab.port}]", f"allowed_ports = [{lab.port}, {other.port}]"
    )
    profiles.write_text(text)


def _page(paging: Any, found: Any) -> dict[str, Any]:
    return {
        "rdapConformance": real_conformance(),
        "notices": real_notices(),
        "paging_metadata": paging,
        "entitySearchResults": found,
    }


def _search(lab: HTTPServer) -> tuple[int, dict[str, Any], str]:
    result = runner.invoke(
        app,
        ["search", "entities", "--fn", "arin*", "--server", lab.url_for("/"),
         "-o", "json", "--no-cache"],
    )  # fmt: skip
    return result.exit_code, json.loads(result.stdout), result.stderr


@pytest.mark.parametrize("index", range(15))
def test_each_hostile_next_link(
    httpserver: HTTPServer, other_server: HTTPServer, rdapctl_home: Path, index: int
) -> None:
    """One next link of the list, well placed: followed only when it stays on the
    server (and then once: it repeats itself), the search ends ok with the results."""
    _both_servers(rdapctl_home, httpserver, other_server)
    pages = HostilePages(httpserver)
    href = hostile_hrefs(httpserver, other_server)[index]
    pages.page = _page({"links": [{"rel": "next", "href": href}]}, RESULTS)
    code, env, err = _search(httpserver)
    assert code == 0, env["error"]
    assert other_server.log == []
    assert all(p.startswith("/entities?") for p in pages.requests)
    stays = index in (0, 2, 3)  # same origin, another page
    assert len(pages.requests) == (2 if stays else 1)
    assert env["search"]["results_count"] == len(RESULTS) * len(pages.requests)
    assert not UNSAFE.search(err)


def test_hostile_paging_never_leaves_the_server(
    httpserver: HTTPServer, other_server: HTTPServer, rdapctl_home: Path
) -> None:
    _both_servers(rdapctl_home, httpserver, other_server)
    pages = HostilePages(httpserver)

    @given(paging=paging(httpserver, other_server), found=results())
    def check(paging: Any, found: Any) -> None:
        pages.requests.clear()
        pages.page = _page(paging, found)
        code, env, err = _search(httpserver)
        assert code in (0, 6, 7), (code, env.get("error"))
        assert env["type"] == "search"
        assert env["status"] in ("ok", "not_found", "error")
        # At most the first page and one same-origin next page (which repeats itself).
        assert 1 <= len(pages.requests) <= 2
        assert all(p.startswith("/entities?") for p in pages.requests)
        assert other_server.log == []
        assert not UNSAFE.search(err)
        if code == 0:
            assert env["search"]["results_count"] == len(env["results"])
            assert len(env["results"]) <= 2 * len(found)

    check()


def test_the_text_table_shows_no_terminal_controls(
    httpserver: HTTPServer, other_server: HTTPServer, rdapctl_home: Path
) -> None:
    """Whatever text a server puts in a result's handle, name, status, events or
    registrar, the table and footer carry nothing a terminal would act on."""
    _both_servers(rdapctl_home, httpserver, other_server)
    pages = HostilePages(httpserver)
    domain = load_fixture("domain-registrar/markmonitor-google.com.json")
    assert isinstance(domain, dict)
    texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)

    @given(handle=texts, name=texts, status=texts, date=texts, registrar=texts)
    def check(handle: str, name: str, status: str, date: str, registrar: str) -> None:
        result = json.loads(json.dumps(domain))
        result.update(handle=handle, ldhName=name, status=[status])
        result["events"] = [{"eventAction": "registration", "eventDate": date}]
        result["entities"] = [
            {
                "objectClassName": "entity",
                "roles": ["registrar"],
                "vcardArray": ["vcard", [["version", {}, "text", "4.0"],
                                         ["fn", {}, "text", registrar]]],
            }
        ]  # fmt: skip
        pages.page = {"rdapConformance": ["rdap_level_0"], "domainSearchResults": [result]}
        code, out, err = invoke_text(httpserver)
        assert code == 0, err
        assert not UNSAFE.search(out)
        assert out.splitlines()[-1] == "1 result, 1 page"

    check()


def invoke_text(lab: HTTPServer) -> tuple[int, str, str]:
    result = runner.invoke(
        app,
        ["search", "domains", "--name", "*", "--server", lab.url_for("/"), "-o", "text",
         "--no-cache"],
    )  # fmt: skip
    return result.exit_code, result.stdout, result.stderr
