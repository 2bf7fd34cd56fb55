"""The team backend: one tenant's shared state on Redis (or Valkey), for many machines.

- ``backend``: :class:`TeamBackend`, the connection (redis-py, imported only here and
  only when a team tenant is used), key names under the prefix, failure handling.
- ``cache``: :class:`LayeredCache`, the local encrypted cache with the shared one
  behind it (the same sealed blobs under the same HMAC-keyed names).
- ``keyring``: :class:`TeamKeyring`, the tenant keyring kept in Redis wrapped under
  the master key, mirrored in the local keyring file.
- ``ratelimit``: the shared state of the per-host token buckets (an atomic script).
- ``stream``: audit records appended, sealed, to the tenant's stream, and read back.

Nothing is stored in clear: cache entries are the local store's AES-256-GCM blobs
under HMAC names, the keyring is wrapped under the master key, audit records are
sealed, rate-limit keys are hashes of host names. The password never reaches a
message, a log line, an audit record or an exception.
"""
