"""The embedded local stack: a Kafka-compatible broker (tansu) and a Redis server, as local processes."""
