"""The segment model: its record, its features, its scoring and its registry."""
