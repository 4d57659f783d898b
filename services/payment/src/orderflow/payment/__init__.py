"""orderflow payment service."""
