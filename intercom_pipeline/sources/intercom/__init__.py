"""Intercom extraction: the API client (and, with the ingestion issue, the dlt source)."""
