"""The tenant's policy model and the pure rules that apply it: residency, redaction, request
limits.
"""
