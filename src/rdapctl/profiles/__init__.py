"""Tenant profiles: loading the TOML file, its spec and cross-key rules, and validation findings."""
