"""Event and table schemas: one definition yields the Arrow/Spark schemas and the validator."""
