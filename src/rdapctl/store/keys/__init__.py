"""Each tenant's keys.

* ``keyring``: :class:`~rdapctl.store.keys.keyring.Keyring`, what commands use:
  open or create, read keys, rotate and retire, export and import.
* ``keyfile``: the keyring file, its integrity check, wrapping under the master key
  and its lock; ``master``: the master key from the environment.
* ``backup``: the format of offline backups (``keys export`` / ``keys import``).
* ``loss``: a lost keyring told from a new tenant; ``replace``: ``keys init``,
  replacing a lost keyring.
"""
