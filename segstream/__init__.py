"""segstream: near-real-time customer segmentation on Kafka, Spark and Delta Lake."""
