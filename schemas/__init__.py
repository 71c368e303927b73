"""Event and table schemas: one definition yields the Spark schema, the Arrow schema and the validator."""
