"""Implementations of the payment ports: DynamoDB, the simulated and Stripe gateways, Powertools
telemetry, and every port in memory."""
