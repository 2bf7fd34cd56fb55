"""Command groups, each imported only when it is invoked (start-up time)."""
