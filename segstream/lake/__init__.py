"""The one lake layer: creating, writing and reading the Delta tables of the catalogue
(`segstream.contracts.tables`). Spark side; the monitor reads the same tables with
delta-rs (`viz/reads.py`) through the same catalogue."""
