"""Implementations of the payment ports: DynamoDB, the simulated gateway, Powertools telemetry."""
