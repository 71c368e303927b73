"""Infrastructure: the embedded local services, and manifests for a cluster."""
