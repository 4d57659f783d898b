"""Implementations of the inventory ports: DynamoDB for Lambda, in memory for tests and benches."""
