"""The RDAP protocol, pure and without disk or network: queries, bootstrap matching, answers,
the envelope.
"""
