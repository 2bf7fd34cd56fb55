"""The terminal (rich) view of a lookup envelope: a readable screenful, not a JSON dump.

Owns: turning the JSON envelope of ``rdapctl lookup`` (header, abuse contact, the RDAP
object, each registrar referral, errors, RFC 9537 redactions) into rich renderables on
a console the caller passes in. An entity's jCard and JSContact cards (RFC 9553) are
shown alike, merged into one set of contact fields; fields the server or rdapctl
redacted read ``[redacted]``. Remarks and notices are shown in whatever shape they
come (objects, a lone object, strings, nested lists, a map of notices): only values
found under those members, never member names (the redaction engine masks contacts in
the values there, not in the names).

Must not: fetch, cache, redact or decide policy (it only shows what the envelope says);
import httpx, cryptography or diskcache; keep any state between calls; raise on any
shape of server data. Every server-provided string is stripped of control characters
(other invisible characters are written as escapes by ``rdapctl.core.termtext.visible``) and
only ever reaches rich inside ``Text`` objects (never parsed as markup or emoji), so a
server cannot style, hide or move the terminal's output.

The view is linear in the size of the answer: lists are de-duplicated with dicts, and
every list shows its first items and then "… and N more" (entities count against one
budget at every depth), so 100,000 statuses or entities print a screenful, not a scroll.

Modules: ``envelope`` (``render_envelope``, the entry point), ``objects`` (one view per
object class, search results, history), ``sections`` (events, notices, links, entities),
``cards`` (jCard and JSContact contact fields), ``redactions`` (the RFC 9537 index),
``layout`` (rows, headings, indented lines) and ``values`` (safe display strings, limits).
"""
