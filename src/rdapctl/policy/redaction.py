"""PII redaction of RDAP responses by tenant policy, RFC 9537 style.

Owns ``redact_pii`` (remove contact properties from every jCard / JSContact card at
any depth, and record each removal in the top-level ``redacted`` array) and
``without_exempt_contacts``. The parts: where cards are, ``rdapctl.rdap.cards``; the
walk over a document, ``rdapctl.policy.redaction_walk``; the RFC 9537 entries (ours,
and the server's: ``server_redactions``), ``rdapctl.policy.redaction_entries``;
contacts in free text (``find_pii``, ``mask_contacts``), ``rdapctl.policy.contact_text``.

Pure: values in, values out. It must not do I/O, log, mutate its input, or import
httpx / typer / rich. It reports field *names* only, never the values removed, since
its result feeds the audit log.

Decisions:

* ``fn`` is required by jCard (RFC 6350 cardinality 1*), so it is blanked to ``""``
  (RFC 9537 method ``emptyValue``, with a ``postPath``) instead of removed; every
  other field is removed (method ``removal``, with a ``prePath``).
* One ``redacted`` entry per (entity, property name): its JSONPath filter covers
  every property of that name in the card. ``count`` counts each property (and
  each contact replaced in free text, below). JSContact members count per entry.
* Malformed jCards are handled best-effort: properties are found in
  ``vcardArray[1]``, in ``vcardArray`` itself (no nesting) and one level below; a
  property missing its value followed by a list that cannot be a property is taken
  to be that value, split off, and removed with it.
* Property names match case-insensitively, with any vCard group prefix
  (``item1.EMAIL`` is ``email``). Parameters that hold a name (``sort-as``, ``label``)
  go with their property, and are dropped from a blanked ``fn``.
* Redaction is for natural persons: an entity whose roles all lie in
  ``exempt_roles`` (by default registrar and abuse) and whose ``kind`` is not
  ``individual`` keeps its name, organisation, e-mail, phone and contact URIs
  (``EXEMPT_FIELDS``); its address, and the free text around it, are still redacted.
* When ``email`` / ``tel`` are redacted, e-mail addresses / phone numbers in every
  string of ``remarks`` and ``notices`` (whatever their shape) and in the ``title`` and
  ``description`` of error objects are replaced too (method ``partialValue``):
  registries paste contacts there.
* JSContact cards are found by shape: members named ``jscard``, ``jscard_*`` or
  ``jscontact_card``, and any object with ``"@type": "Card"``. fn -> ``name.full``,
  ``name.sortAs`` (and legacy ``fullName``), n -> ``name.components``,
  org/adr/email/tel -> ``organizations`` / ``addresses`` / ``emails`` / ``phones``,
  contact-uri -> contact-kind ``links`` and ``onlineServices``; ``localizations``
  patches of any of these go with them.
* A top-level list gets its cards cleaned but has nowhere to hold ``redacted``.
  ``rdapConformance`` is created as ``["redacted"]`` when missing: we vouch for our
  own extension, not for the server's conformance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rdapctl.core.records import record
from rdapctl.policy.redaction_entries import add_entries
from rdapctl.policy.redaction_walk import CONTAINERS, RedactionWalk, is_exempt
from rdapctl.rdap.cards import card_members

_SEQUENCES = (dict, list, tuple)


@record
class RedactionResult:
    obj: Any
    redacted_fields: tuple[str, ...]
    count: int


def redact_pii(
    obj: Any,
    fields: Sequence[str],
    *,
    tenant: str,
    in_place: bool = False,
    exempt_roles: Sequence[str] = (),
) -> RedactionResult:
    """A copy of ``obj`` without the contact properties named in ``fields``.

    ``fields`` are jCard property names (case-insensitive). An empty ``fields``
    returns ``obj`` itself, untouched. ``in_place=True`` edits ``obj`` itself: for a
    document the caller has just parsed and owns, where the copy is wasted work.
    ``exempt_roles``: entities with only these roles, not of kind ``individual``, keep
    the ``EXEMPT_FIELDS`` (organisations and role mailboxes, not natural persons).
    """
    wanted = tuple(sorted({str(f).strip().lower() for f in fields} - {""}))
    if not wanted:
        return RedactionResult(obj, (), 0)
    out = obj if in_place else _copy_json(obj)
    roles = frozenset(str(r).strip().lower() for r in exempt_roles)
    run = RedactionWalk(frozenset(wanted), tenant, roles)
    run.walk(out)
    if isinstance(out, dict) and run.entries:
        add_entries(out, run.entries)
    return RedactionResult(out, tuple(sorted(run.removed)), run.count)


def without_exempt_contacts(envelope: Any, exempt_roles: Sequence[str]) -> Any:
    """A copy of ``envelope`` without what redaction leaves on purpose: the cards of
    exempt entities and the ``abuse`` summary (for scans that look for contacts the
    policy should have removed, such as ``rdapctl doctor``)."""
    roles = frozenset(str(r).strip().lower() for r in exempt_roles)
    out = _copy_json(envelope)
    if isinstance(out, dict):
        out.pop("abuse", None)
    stack = [out]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            cards = card_members(node)
            if is_exempt(node, cards, roles):
                node.pop("vcardArray", None)
                for member in cards:
                    del node[member]
            stack.extend(v for v in node.values() if isinstance(v, CONTAINERS))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, CONTAINERS))
    return out


def _copy_json(obj: Any) -> Any:
    """Deep copy of dicts and lists (tuples become lists), iterative and cycle-safe."""

    def fresh(value: Any) -> Any:
        return {} if isinstance(value, dict) else []

    if not isinstance(obj, _SEQUENCES):
        return obj
    memo: dict[int, Any] = {}
    root = fresh(obj)
    memo[id(obj)] = root
    stack: list[tuple[Any, Any]] = [(obj, root)]
    while stack:
        src, dst = stack.pop()
        items = src.items() if isinstance(src, dict) else enumerate(src)
        for key, value in items:
            if isinstance(value, _SEQUENCES):
                if id(value) in memo:
                    copy = memo[id(value)]
                else:
                    copy = memo[id(value)] = fresh(value)
                    stack.append((value, copy))
            else:
                copy = value
            if isinstance(dst, dict):
                dst[key] = copy
            else:
                dst.append(copy)
    return root
