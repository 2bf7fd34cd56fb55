"""Real RDAP search results served in pages on a pytest-httpserver (RFC 8977 paging).

The entity and network results are ARIN's real search answers (fixtures under
``search/``). For domain and name server searches no real search answer is on file:
their pages wrap real domain and name server objects (``domain-*/``, ``nameserver/``)
in a ``domainSearchResults`` / ``nameserverSearchResults`` array (autnum objects from
``autnum/`` likewise for ``autnumSearchResults``; ARIN's networks serve ``ips``), with the
rdapConformance and notices of ARIN's real entity search answer.

Pages carry ``paging_metadata`` with ``totalCount``, ``pageSize``, ``pageNumber`` and a
``next`` link while results remain: cursor style (``?...&cursor=N``, N the offset of the
next page) or page-number style (``?...&page=N``). The next link keeps the search's own
query parameters, as real servers do.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlencode

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.support import RDAP_FIXTURES, load_fixture

Style = Literal["cursor", "page"]

ENTITY_SEARCH = "search/arin-entitySearchResults-fn-arin.json"
NETWORK_SEARCH = "search/arin-originas0-networkSearchResults.json"
# ARIN's notice saying its answer left results out (RFC 9083 section 10.2.1 type).
TRUNCATION_NOTICE_TYPE = "result set truncated due to authorization"


def _entity_answer() -> dict[str, Any]:
    answer = load_fixture(ENTITY_SEARCH)
    assert isinstance(answer, dict)
    return answer


def entity_results() -> list[dict[str, Any]]:
    """ARIN's 266 real entity results for ``entities?fn=arin*``."""
    return list(_entity_answer()["entitySearchResults"])


def network_results() -> list[dict[str, Any]]:
    """ARIN's 256 real network results (``arin_originas0_networkSearchResults``)."""
    answer = load_fixture(NETWORK_SEARCH)
    assert isinstance(answer, dict)
    return list(answer["arin_originas0_networkSearchResults"])


def real_conformance() -> list[str]:
    return list(_entity_answer()["rdapConformance"])


def real_notices(*, with_truncation: bool = False) -> list[dict[str, Any]]:
    """ARIN's real search notices; its "result set truncated" notice only when asked
    (a page carrying it says results were left out, whatever the paging)."""
    notices = _entity_answer()["notices"]
    return [n for n in notices if with_truncation or n.get("type") != TRUNCATION_NOTICE_TYPE]


def _objects(folder_glob: str, object_class: str) -> list[dict[str, Any]]:
    found = []
    for path in sorted(RDAP_FIXTURES.glob(folder_glob)):
        body = load_fixture(path.relative_to(RDAP_FIXTURES).as_posix())
        if isinstance(body, dict) and body.get("objectClassName") == object_class:
            obj = {k: v for k, v in body.items() if k not in ("rdapConformance", "notices")}
            found.append(obj)
    return found


def domain_results() -> list[dict[str, Any]]:
    """Every real domain object on file (registry, registrar, ccTLD, reverse)."""
    return _objects("domain-*/*.json", "domain")


def nameserver_results() -> list[dict[str, Any]]:
    """The real name server objects on file."""
    return _objects("nameserver/*.json", "nameserver")


def results_for(kind: str) -> tuple[str, list[dict[str, Any]]]:
    """(results member, real results) to serve for a search of ``kind``."""
    if kind == "domains":
        return "domainSearchResults", domain_results()
    if kind == "nameservers":
        return "nameserverSearchResults", nameserver_results()
    if kind == "entities":
        return "entitySearchResults", entity_results()
    if kind == "ips":
        return "ipSearchResults", network_results()
    return "autnumSearchResults", _objects("autnum/*.json", "autnum")


class SearchPages:
    """One search's results, served page by page at ``path`` on ``server``.

    ``requests`` lists the (path, query string) of every request received, ``served``
    the page numbers answered (in order); ``block_page`` (1-based) makes that page wait
    for ``release`` before it is answered, ``fail_page`` answers it with a 500.
    """

    def __init__(
        self,
        server: HTTPServer,
        path: str,
        member: str,
        results: list[dict[str, Any]],
        *,
        per_page: int = 10,
        style: Style = "cursor",
        conformance: list[str] | None = None,
        notices: list[dict[str, Any]] | None = None,
        total: bool = True,
        next_href: Callable[[int, Request], str | None] | None = None,
        fail_page: int | None = None,
        block_page: int | None = None,
    ) -> None:
        self.server = server
        self.path = path
        self.member = member
        self.results = [copy.deepcopy(r) for r in results]
        self.per_page = per_page
        self.style = style
        self.conformance = real_conformance() if conformance is None else conformance
        self.notices = real_notices() if notices is None else notices
        self.total = total
        self.next_href = next_href
        self.fail_page = fail_page
        self.block_page = block_page
        self.release = threading.Event()
        self.requests: list[tuple[str, str]] = []
        self.served: list[int] = []
        server.expect_request(path).respond_with_handler(self._handle)

    @property
    def page_count(self) -> int:
        return max(1, -(-len(self.results) // self.per_page))

    def _page_number(self, request: Request) -> int:
        """1-based page of ``request`` (from its cursor or page parameter)."""
        if self.style == "cursor":
            return int(request.args.get("cursor", "0")) // self.per_page + 1
        return int(request.args.get("page", "1"))

    def _next_url(self, number: int, request: Request) -> str:
        """Absolute URL of page ``number + 1``: the request's own parameters, then the
        cursor (offset of the next result) or the page number."""
        params = [(k, v) for k, v in request.args.items(multi=True) if k not in ("cursor", "page")]
        if self.style == "cursor":
            params.append(("cursor", str(number * self.per_page)))
        else:
            params.append(("page", str(number + 1)))
        return self.server.url_for(self.path) + "?" + urlencode(params, safe="*:,@")

    def page(self, number: int, request: Request) -> dict[str, Any]:
        """Page ``number`` (1-based) as the server sends it."""
        start = (number - 1) * self.per_page
        chunk = self.results[start : start + self.per_page]
        paging: dict[str, Any] = {"pageSize": len(chunk), "pageNumber": number}
        if self.total:
            paging["totalCount"] = len(self.results)
        href: str | None
        if self.next_href is not None:
            href = self.next_href(number, request)
        elif number < self.page_count:
            href = self._next_url(number, request)
        else:
            href = None
        if href is not None:
            paging["links"] = [
                {
                    "value": request.url,
                    "rel": "next",
                    "href": href,
                    "type": "application/rdap+json",
                }
            ]
        return {
            "rdapConformance": list(self.conformance),
            "notices": copy.deepcopy(self.notices),
            "paging_metadata": paging,
            self.member: chunk,
        }

    def _handle(self, request: Request) -> Response:
        import json

        self.requests.append((request.path, request.query_string.decode("ascii")))
        number = self._page_number(request)
        if number == self.block_page:
            # The test sets it once it has seen earlier results; never wait forever.
            assert self.release.wait(timeout=30), "the blocked page was never released"
        if number == self.fail_page:
            self.served.append(number)
            return Response(
                json.dumps({"errorCode": 500, "title": "Internal Server Error"}),
                status=500,
                content_type="application/rdap+json",
            )
        body = self.page(number, request)
        self.served.append(number)
        return Response(json.dumps(body), status=200, content_type="application/rdap+json")


def serve_search(
    server: HTTPServer,
    kind: str,
    path: str | None = None,
    **options: Any,
) -> SearchPages:
    """Serve the real results of ``kind`` in pages at ``path`` (default ``/{kind}``)."""
    member, results = results_for(kind)
    return SearchPages(server, path or f"/{kind}", member, results, **options)
