"""Compact JSON text of trees: parsed RDAP documents and the dicts built around them.

Without the encoder's cycle check, which keeps an ``id()`` per open container and
costs half the time of encoding an RDAP envelope (many small vCard lists). Nothing
encoded here can hold a cycle: it comes from ``json.loads`` or is built fresh per
lookup. A cycle would still end in ``RecursionError``, never in a hang.

Must not: import anything beyond the standard library.
"""

from __future__ import annotations

import json

# ensure_ascii=False: the same text `lookup -o json` and the cache have always used.
dumps_compact = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), check_circular=False
).encode
