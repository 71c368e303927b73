"""Model training: the brand detector, trained by brandlake on synthetic composites."""
