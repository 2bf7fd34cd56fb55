"""rdapctl: a policy-enforcing, multi-tenant RDAP client.

The core (query parsing, bootstrap, HTTP, policy, cache, audit, profiles) is
importable without Typer or rich; ``rdapctl.cli`` is the only layer that parses
arguments and renders.
"""

__version__ = "0.1.0"
