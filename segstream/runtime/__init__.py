"""Local runtime: JVM jars, the embedded Kafka broker and process supervision."""
