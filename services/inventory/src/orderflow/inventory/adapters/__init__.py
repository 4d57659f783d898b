"""Implementations of the inventory ports: DynamoDB and Powertools telemetry for Lambda, in memory
for tests and benches."""
