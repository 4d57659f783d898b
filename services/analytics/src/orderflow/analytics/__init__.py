"""orderflow analytics service."""
