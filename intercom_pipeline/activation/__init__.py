"""Activation: what the warehouse sends back to Intercom (push back, surveys, audiences)."""
