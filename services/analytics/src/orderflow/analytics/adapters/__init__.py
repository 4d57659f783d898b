"""Implementations of the analytics ports: DynamoDB tables and Powertools EMF metrics."""
