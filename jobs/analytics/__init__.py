"""What analysts use: SQL over the lake's tables by name."""
