"""The embedded local stack: an Apache Kafka broker and Redis, as local processes."""
