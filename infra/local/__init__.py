"""The embedded local stack: a Kafka-compatible broker (tansu) and Redis, as local processes."""
