"""Batch lookups: input lines, jobs shared by threads and processes, runners, ordered output."""
