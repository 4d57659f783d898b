"""Implementations of the analytics ports: DynamoDB tables and Powertools EMF metrics for Lambda,
in memory for tests and benches."""
