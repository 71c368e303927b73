"""Plumbing shared by every job: environment, configuration, Spark session, Kafka, Delta, Redis."""
