"""The tamper-evident audit trail of each tenant.

* ``log``: :class:`~rdapctl.store.audit.log.AuditLog`, what commands use: append,
  read, verify, prune, repair.
* ``fields``: what a record holds (events, the fixed per-process fields, the
  rules for a caller's fields); ``scrub``: the hashed query kept out of every field.
* ``trail``: the lock, the chain head and sealing records; ``dayfile``: the appends
  and fsyncs of the day files.
* ``format``: the line format, MACs and keys; ``checkpoint``: the sealed chain head.
* ``verify``: every bad place of a trail; ``maintenance``: prune, repair and the new
  segment after a lost keyring.
"""
