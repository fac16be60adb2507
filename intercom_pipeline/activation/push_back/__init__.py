"""Reverse ETL: survey results from the warehouse onto Intercom contacts, without Dagster."""
