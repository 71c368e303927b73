"""What one segment shows: frames sampled, analyzers run in batches, rows for the silver tables."""
