"""The application: the run-time context, the tenant session, the lookup pipeline, doctor."""
