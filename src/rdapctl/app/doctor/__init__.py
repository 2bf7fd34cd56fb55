"""``rdapctl doctor``: the tenant isolation check, as data (one module per group of checks;
``run`` runs them all).

Owns the checks and their verdicts: owner-only permissions of rdapctl's state
(keys, cache, audit, bootstrap folders), one keyring per tenant with no key shared
between tenants, master-key wrapping, audit chains, cache stores readable with their
own keys, the profiles file, the age of the bootstrap registries, and a PII scan of
what redacting tenants stored. ``--fix`` repairs permissions only (chmod 0600 files,
0700 folders, under rdapctl's own state folders).

Must not: import typer or rich (``rdapctl.cli.doctor_cmd`` renders), create state
(no keyring, cache or audit folder comes into being because it was checked), or put
key material, fingerprints or PII values in a result: results name places and
counts.

Decisions:

* A path is owner-only when it grants nothing to group or others (0600 and 0400
  both pass); ``--fix`` sets exactly 0600 / 0700. Symlinks are not followed or
  changed. Bad permissions under ``audit/`` fail with exit 10, elsewhere 9.
* A tenant with no keyring, cache or audit folder has "no state yet": a pass.
* Checks that need a keyring that does not open are skipped with a warning: the
  keyring check already fails for it, and its exit code (9) is the cause.
* Bootstrap age is the newest ``publication`` of the five registries (IANA only
  republishes a registry when it changes: ipv4 last changed in 2019), warned when
  older than :data:`BOOTSTRAP_MAX_AGE_DAYS` (about six months, in which IANA
  usually adds delegations).
* The PII scan looks for e-mail addresses when ``email`` is redacted and for phone
  numbers when ``tel`` is, in decrypted cache entries (PII there: exit 9) and audit
  files, quarantined torn writes included (exit 10).
* State found on disk for a tenant the profiles file does not name is checked too
  (its keys could still be shared), with a warning; its PII policy is unknown.
"""
