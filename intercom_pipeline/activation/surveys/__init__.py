"""Survey delivery: what happens after a conversation closes."""
