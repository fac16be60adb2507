"""Audiences: Intercom lists, segments and custom segments, synced with a report."""
