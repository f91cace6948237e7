"""The Structured Streaming job: Kafka `transactions` -> Delta events, quarantine, customer_rfm."""
