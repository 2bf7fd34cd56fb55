"""Everything kept on disk for a tenant: paths and ownership, keys, the encrypted cache, the
audit trail.
"""
