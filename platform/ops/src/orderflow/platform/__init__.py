"""orderflow platform: what the platform team runs."""
