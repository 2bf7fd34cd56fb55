"""Issue 21, property-based: the conformance checks never raise, whatever the answer.

Three sources of hostile answers: arbitrary JSON values; objects built from RDAP's own
member names with arbitrary values (so the checks' deeper paths run); and the real
fixtures in ``tests/fixtures/rdap/`` with members replaced, removed or added at random
places. For each: ``run_checks`` returns, under every profile, findings whose ids are
registered, whose pointers resolve in the body (or are ""), sorted, the same on a
second run.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rdapctl.rdap.conformance import CHECKS, QUERY_TYPES, Answer, run_checks
from tests.support import RDAP_FIXTURES, all_fixture_files
from tests.test_conformance_fixtures import assert_well_formed

RDAP_NAMES = [
    "rdapConformance", "notices", "remarks", "links", "events", "asEventActor", "status",
    "entities", "nameservers", "network", "networks", "autnums", "objectClassName", "handle",
    "ldhName", "unicodeName", "vcardArray", "roles", "publicIds", "startAddress",
    "endAddress", "ipVersion", "startAutnum", "endAutnum", "lang", "port43", "errorCode",
    "title", "description", "type", "href", "rel", "value", "eventAction", "eventDate",
    "redacted", "name", "method", "prePath", "postPath", "replacementPath", "pathLang",
    "paging_metadata", "sorting_metadata", "subsetting_metadata", "totalCount",
    "currentSort", "availableSorts", "property", "default", "currentFieldSet",
    "availableFieldSets", "reverse_search_properties", "propertyPath",
    "reverse_search_properties_mapping", "searchableResourceType", "relatedResourceType",
    "domainSearchResults", "entitySearchResults", "ipSearchResults", "identifier",
]  # fmt: skip
RDAP_STRINGS = [
    "rdap_level_0", "redacted", "paging", "icann_rdap_response_profile_0", "domain",
    "entity", "ip network", "autnum", "nameserver", "self", "registrar", "abuse",
    "vcard", "version", "email", "tel", "4.0", "text", "v4", "v6", "192.0.2.1",
    "2001:db8::", "AS64496", "xn--bcher-kva.example", "bücher.example", "$.handle",
    "$[?@.a==1]", "$..", "2024-02-29T12:00:00Z", "last update of RDAP database",
    "IANA Registrar ID", "Status Codes", "https://icann.org/epp", "terms-of-service",
    "removal", "en", "x-private", "~/", "",
]  # fmt: skip

keys = st.one_of(st.sampled_from(RDAP_NAMES), st.text(max_size=8))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(RDAP_STRINGS),
    st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=6)
    ),
    max_leaves=40,
)
headers = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["content-type", "access-control-allow-origin", "x"]),
        st.one_of(st.sampled_from(["application/rdap+json", "application/json", "*"]), st.text()),
    ),
)
answers_extra = st.fixed_dictionaries(
    {
        "query": st.one_of(st.sampled_from(RDAP_STRINGS), st.text(max_size=20)),
        "http_status": st.one_of(st.none(), st.sampled_from([200, 301, 404, 429, 500])),
        "headers": headers,
        "url": st.one_of(
            st.none(), st.sampled_from(["https://a.example/x", "http://b"]), st.text()
        ),
        "redirects": st.integers(min_value=0, max_value=10),
    }
)
FIXTURES = {
    str(p.relative_to(RDAP_FIXTURES)): p for p in all_fixture_files() if p.stat().st_size < 20_000
}


def _check_everything(body: Any, extra: dict[str, Any]) -> None:
    """Every query type under profile "all" (a superset of the others, see
    test_conformance_fixtures), and one profile filter."""
    for query_type in QUERY_TYPES:
        answer = Answer(body, query_type, **extra)
        findings = run_checks(answer, "all")
        assert all(finding.id in CHECKS for finding in findings)
        assert_well_formed(findings, body)
    rfc = run_checks(answer, "rfc")
    assert set(rfc) <= set(findings)
    assert all("rfc" in CHECKS[finding.id].profiles for finding in rfc)


@given(json_values, answers_extra)
def test_arbitrary_json_never_raises(body: Any, extra: dict[str, Any]) -> None:
    _check_everything(body, extra)


@given(st.dictionaries(st.sampled_from(RDAP_NAMES), json_values, max_size=10), answers_extra)
def test_rdap_shaped_objects_never_raise(body: dict[str, Any], extra: dict[str, Any]) -> None:
    _check_everything(body, extra)


def _containers(node: Any) -> list[Any]:
    found, stack = [], [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict | list):
            found.append(item)
            stack.extend(item.values() if isinstance(item, dict) else item)
    return found


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> Any:
    name = draw(st.sampled_from(sorted(FIXTURES)))
    body = json.loads(FIXTURES[name].read_text(encoding="utf-8"))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        containers = _containers(body)
        target = draw(st.sampled_from(containers))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if isinstance(target, dict):
            key = (
                draw(st.sampled_from(sorted(target))) if target and action != "add" else draw(keys)
            )
            if action == "delete":
                target.pop(key, None)
            else:
                target[key] = draw(json_values)
        elif target and action != "add":
            index = draw(st.integers(min_value=0, max_value=len(target) - 1))
            if action == "delete":
                del target[index]
            else:
                target[index] = draw(json_values)
        else:
            target.append(draw(json_values))
    return body


@given(mutated_fixtures(), answers_extra)
def test_mutated_real_answers_never_raise(body: Any, extra: dict[str, Any]) -> None:
    original = copy.deepcopy(body)
    _check_everything(body, extra)
    assert body == original  # the checks never change the answer
