"""Producers: publish purchases and customer profiles to Kafka."""
