"""orderflow notifications service."""
