"""Talking to registries: the network guard, URL rules, TLS connections, the HTTP clients and
rate limits.
"""
