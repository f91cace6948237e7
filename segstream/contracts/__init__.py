"""Data contracts: the event schema and the Delta table names and schemas."""
