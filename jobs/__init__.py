"""brandlake's Spark jobs, one module per job, each with a `main()`."""
