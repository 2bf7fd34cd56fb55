"""Base modules every layer may use: errors and exit codes, records, JSON and terminal text,
host names.
"""
