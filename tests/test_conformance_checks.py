"""Issue 21: every conformance check, one real answer broken in exactly its way.

Each case takes a real registry answer from ``tests/fixtures/rdap/`` (see PROVENANCE.md
there), runs the checks on it as it is, then on a copy with one small, visible mutation
(for the search metadata, which no fixture carries, a valid member is added first and
then broken), and asserts that the mutation adds exactly one finding: the case's check,
at the case's JSON Pointer, and that the unbroken answer has no such finding.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from rdapctl.rdap.conformance import CHECKS, Answer, run_checks
from tests.support import load_fixture

GTLD = "domain-gtld-registry/verisign-com-google.com-2021-06.json"
NETWORK = "ip-network/arin-ip-192.198.0.0.json"  # 192.198.0.0 - 192.198.3.255
AUTNUM = "autnum/arin-as63311.json"
ENTITY = "entity/ripe-entity-AMS346-RIPE.json"
NAMESERVER = "nameserver/afnic-ns1.nic.fr.json"
HELP = "help/afnic-help.json"
ERROR = "error/ripe-404-error.json"
REDACTED = "redacted/icann.org-registrant-excerpt-redacted.json"
SEARCH = "search/arin-entitySearchResults-fn-arin.json"
HTTP_OK = {
    "http_status": 200,
    "headers": {"content-type": "application/rdap+json", "access-control-allow-origin": "*"},
    "url": "https://rdap.verisign.com/com/v1/domain/GOOGLE.COM",
    "redirects": 0,
}
Mutation = Callable[[Any], Any]


def _parent(body: Any, pointer: str) -> tuple[Any, str | int]:
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]
    node = body
    for token in tokens[:-1]:
        node = node[int(token)] if isinstance(node, list) else node[token]
    last = tokens[-1]
    return node, int(last) if isinstance(node, list) else last


def put(pointer: str, value: Any) -> Mutation:
    def mutate(body: Any) -> Any:
        node, key = _parent(body, pointer)
        node[key] = value
        return body

    return mutate


def drop(pointer: str) -> Mutation:
    def mutate(body: Any) -> Any:
        node, key = _parent(body, pointer)
        del node[key]
        return body

    return mutate


def without(pointer: str, value: Any) -> Mutation:
    """Remove ``value`` from the array at ``pointer``."""

    def mutate(body: Any) -> Any:
        node, key = _parent(body, pointer)
        node[key].remove(value)
        return body

    return mutate


def swap(pointer: str, first: str | int, second: str | int) -> Mutation:
    def mutate(body: Any) -> Any:
        if pointer:
            node, key = _parent(body, pointer)
            target = node[key]
        else:
            target = body
        target[first], target[second] = target[second], target[first]
        return body

    return mutate


def declare(identifier: str, member: str, value: Any) -> Mutation:
    """Add a valid extension member and declare its identifier."""

    def mutate(body: Any) -> Any:
        body["rdapConformance"].append(identifier)
        body[member] = value
        return body

    return mutate


@dataclass
class Case:
    check: str
    fixture: str
    query_type: str
    broken: Mutation
    pointer: str
    profile: str = "all"
    answer: dict[str, Any] = field(default_factory=dict)
    broken_answer: dict[str, Any] = field(default_factory=dict)
    prepare: Mutation | None = None


PAGING = {"totalCount": 266, "pageSize": 266, "pageNumber": 1}
SORTING = {"currentSort": "handle", "availableSorts": [{"property": "handle", "default": True}]}
SUBSETTING = {"currentFieldSet": "full", "availableFieldSets": [{"name": "full", "default": True}]}
REVERSE = [
    {
        "searchableResourceType": "domains",
        "relatedResourceType": "entity",
        "property": "fn",
    }
]
MAPPING = [{"property": "fn", "propertyPath": "$.entities[*].vcardArray[1][?(@[0]=='fn')][3]"}]
REGISTRAR_CARD = "/entities/0/vcardArray"
ABUSE = "/entities/0/entities/0"

CASES = [
    # RFC 7480
    Case("rfc7480.media-type", GTLD, "domain", lambda b: b, "", answer=HTTP_OK,
         broken_answer={"headers": {**HTTP_OK["headers"], "content-type": "text/html"}}),
    Case("rfc7480.media-type.rdap", GTLD, "domain", lambda b: b, "", answer=HTTP_OK,
         broken_answer={"headers": {**HTTP_OK["headers"], "content-type": "application/json"}}),
    Case("rfc7480.cors", GTLD, "domain", lambda b: b, "", answer=HTTP_OK,
         broken_answer={"headers": {"content-type": "application/rdap+json"}}),
    Case("rfc7480.https", GTLD, "domain", lambda b: b, "", answer=HTTP_OK,
         broken_answer={"url": "http://rdap.verisign.com/com/v1/domain/GOOGLE.COM"}),
    Case("rfc7480.redirects", GTLD, "domain", lambda b: b, "", answer=HTTP_OK,
         broken_answer={"redirects": 4}),
    Case("rfc7480.error-object", ERROR, "domain", drop("/errorCode"), "",
         answer={"http_status": 404}),
    Case("rfc7480.error-code", ERROR, "domain", put("/errorCode", 500), "/errorCode",
         answer={"http_status": 404}),
    # RFC 9083
    Case("rfc9083.body.object", GTLD, "domain", lambda b: [b], ""),
    Case("rfc9083.conformance.missing", GTLD, "domain", drop("/rdapConformance"), ""),
    Case("rfc9083.conformance.level0", GTLD, "domain",
         without("/rdapConformance", "rdap_level_0"), "/rdapConformance"),
    Case("rfc9083.conformance.nested", GTLD, "domain",
         put("/entities/0/rdapConformance", ["rdap_level_0"]), "/entities/0/rdapConformance"),
    Case("rfc9083.conformance.extension", GTLD, "domain", put("/paging_metadata", PAGING),
         "/rdapConformance"),
    Case("rfc9083.member.type", GTLD, "domain", put("/handle", 2138514), "/handle"),
    Case("rfc9083.member.unknown", GTLD, "domain", put("/nameServers", []), "/nameServers"),
    Case("rfc9083.objectclass.missing", GTLD, "domain", drop("/nameservers/0/objectClassName"),
         "/nameservers/0"),
    Case("rfc9083.objectclass.mismatch", GTLD, "domain", put("/objectClassName", "nameserver"),
         "/objectClassName"),
    Case("rfc9083.links.self", GTLD, "domain", put("/links/0/rel", "alternate"), "/links"),
    Case("rfc9083.links.shape", GTLD, "domain", drop("/links/1/href"), "/links/1"),
    Case("rfc9083.links.members", GTLD, "domain", drop("/links/1/value"), "/links/1"),
    Case("rfc9083.notices.shape", GTLD, "domain",
         put("/notices/0/description", "Service subject to Terms of Use."),
         "/notices/0/description"),
    Case("rfc9083.notices.type", GTLD, "domain", put("/notices/0/type", "terms of use"),
         "/notices/0/type"),
    Case("rfc9083.lang", GTLD, "domain", put("/lang", "en_US"), "/lang"),
    Case("rfc9083.events.action", GTLD, "domain", put("/events/0/eventAction", "created"),
         "/events/0/eventAction"),
    Case("rfc9083.events.date", GTLD, "domain", put("/events/0/eventDate", "1997-09-15 04:00:00"),
         "/events/0/eventDate"),
    Case("rfc9083.status.value", GTLD, "domain", put("/status/0", "clientDeleteProhibited"),
         "/status/0", profile="rfc"),
    Case("rfc9083.roles.value", GTLD, "domain", put(f"{ABUSE}/roles", ["abuse", "complaints"]),
         f"{ABUSE}/roles/1"),
    Case("rfc9083.jcard.shape", GTLD, "domain", put(f"{REGISTRAR_CARD}/0", "vcard4"),
         REGISTRAR_CARD),
    Case("rfc9083.jcard.version", GTLD, "domain", swap(f"{REGISTRAR_CARD}/1", 0, 1),
         f"{REGISTRAR_CARD}/1/0"),
    Case("rfc9083.jcard.property", GTLD, "domain", put(f"{REGISTRAR_CARD}/1/1/1", "{}"),
         f"{REGISTRAR_CARD}/1/1"),
    Case("rfc9083.ldh.name", GTLD, "domain", put("/nameservers/0/ldhName", "NS1_GOOGLE.COM"),
         "/nameservers/0/ldhName"),
    Case("rfc9083.ldh.unicode", GTLD, "domain", put("/unicodeName", "g\u043e\u043egle.com"),
         "/unicodeName"),
    Case("rfc9083.ip.range", NETWORK, "ip", swap("", "startAddress", "endAddress"),
         "/startAddress", answer={"query": "192.198.1.1"}),
    Case("rfc9083.ip.version", NETWORK, "ip", put("/endAddress", "2001:db8::ffff"),
         "/endAddress", answer={"query": "192.198.1.1"}),
    Case("rfc9083.ip.query", NETWORK, "ip", lambda b: b, "",
         answer={"query": "192.198.0.0/22"}, broken_answer={"query": "192.198.4.1"}),
    Case("rfc9083.autnum.range", AUTNUM, "autnum", put("/startAutnum", 63312), "/startAutnum",
         answer={"query": "AS63311"}),
    Case("rfc9083.autnum.query", AUTNUM, "autnum", lambda b: b, "",
         answer={"query": "AS63311"}, broken_answer={"query": "as63312"}),
    Case("rfc9083.search.results", SEARCH, "search", put("/entitySearchResults/0", "ARIN"),
         "/entitySearchResults/0"),
    # RFC 9537
    Case("rfc9537.redacted.shape", REDACTED, "domain", put("/redacted/1", "removal"),
         "/redacted/1"),
    Case("rfc9537.redacted.name", REDACTED, "domain", put("/redacted/0/name", {}),
         "/redacted/0/name"),
    Case("rfc9537.redacted.method", REDACTED, "domain", put("/redacted/0/method", "blackout"),
         "/redacted/0/method"),
    Case("rfc9537.redacted.path", REDACTED, "domain", put("/redacted/0/prePath", "$.handle["),
         "/redacted/0/prePath"),
    Case("rfc9537.redacted.declared", REDACTED, "domain",
         without("/rdapConformance", "redacted"), "/rdapConformance"),
    # RFC 8977, 8982, 9536 (a valid member added first: no fixture carries one)
    Case("rfc8977.paging.shape", SEARCH, "search", put("/paging_metadata/totalCount", "266"),
         "/paging_metadata", prepare=declare("paging", "paging_metadata", PAGING)),
    Case("rfc8977.sorting.shape", SEARCH, "search",
         put("/sorting_metadata/availableSorts/0/default", "yes"), "/sorting_metadata",
         prepare=declare("sorting", "sorting_metadata", SORTING)),
    Case("rfc8982.subsetting.shape", SEARCH, "search",
         drop("/subsetting_metadata/currentFieldSet"), "/subsetting_metadata",
         prepare=declare("subsetting", "subsetting_metadata", SUBSETTING)),
    Case("rfc9536.reverse-search.shape", HELP, "help",
         drop("/reverse_search_properties/0/relatedResourceType"), "/reverse_search_properties/0",
         prepare=declare("reverse_search", "reverse_search_properties", REVERSE)),
    Case("rfc9536.reverse-search.shape", SEARCH, "search",
         put("/reverse_search_properties_mapping/0/propertyPath", "$.entities[*"),
         "/reverse_search_properties_mapping/0/propertyPath",
         prepare=declare("reverse_search", "reverse_search_properties_mapping", MAPPING)),
    # ICANN gTLD profile
    Case("icann.conformance.profile", GTLD, "domain",
         without("/rdapConformance", "icann_rdap_response_profile_0"), "/rdapConformance"),
    Case("icann.conformance.tig", GTLD, "domain",
         without("/rdapConformance", "icann_rdap_technical_implementation_guide_0"),
         "/rdapConformance"),
    Case("icann.registrar.entity", GTLD, "domain", put("/entities/0/roles", ["reseller"]),
         "/entities"),
    Case("icann.registrar.iana-id", GTLD, "domain",
         put("/entities/0/publicIds/0/type", "Registrar ID"), "/entities/0"),
    Case("icann.abuse.contact", GTLD, "domain", put(f"{ABUSE}/roles", ["technical"]),
         "/entities/0"),
    Case("icann.abuse.email", GTLD, "domain", drop(f"{ABUSE}/vcardArray/1/3"), ABUSE),
    Case("icann.abuse.phone", GTLD, "domain", drop(f"{ABUSE}/vcardArray/1/2"), ABUSE),
    Case("icann.notice.status-codes", GTLD, "domain",
         put("/notices/1/links/0/href", "https://www.example.com/epp"), "/notices/1"),
    Case("icann.notice.inaccuracy-form", GTLD, "domain", drop("/notices/2"), "/notices"),
    Case("icann.notice.terms-of-service", GTLD, "domain", drop("/notices/0/links"), "/notices"),
    Case("icann.events.last-update", GTLD, "domain", drop("/events/2"), "/events"),
    Case("icann.status.epp", GTLD, "domain", put("/status/0", "validated"), "/status/0",
         profile="icann-gtld"),
]  # fmt: skip


def _run(case: Case, body: Any, extra: dict[str, Any]) -> set[tuple[str, str]]:
    fields = {**case.answer, **extra}
    answer = Answer(body, case.query_type, **fields)
    return {(f.id, f.pointer) for f in run_checks(answer, case.profile)}


@pytest.mark.parametrize("case", CASES, ids=[f"{case.check}:{case.pointer}" for case in CASES])
def test_each_check_finds_exactly_its_defect(case: Case) -> None:
    body = copy.deepcopy(load_fixture(case.fixture))
    if case.prepare is not None:
        body = case.prepare(body)
    before = _run(case, copy.deepcopy(body), {})
    assert (case.check, case.pointer) not in before
    after = _run(case, case.broken(copy.deepcopy(body)), case.broken_answer)
    assert after - before == {(case.check, case.pointer)}


def test_every_registered_check_has_a_case() -> None:
    assert {case.check for case in CASES} == set(CHECKS)


def test_a_finding_carries_its_check_s_severity_and_reference() -> None:
    body = load_fixture(GTLD)
    assert isinstance(body, dict)
    body["status"][0] = "clientDeleteProhibited"
    (finding,) = [f for f in run_checks(Answer(body, "domain"), "rfc") if f.pointer == "/status/0"]
    assert finding.id == "rfc9083.status.value"
    assert finding.severity == "error"
    assert finding.reference == "RFC 9083 §4.6, §10.2.2"
    assert finding.message == 'status value "clientDeleteProhibited" is not in the IANA registry'
