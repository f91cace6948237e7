"""The top floor: the `segstream` command and the demo supervisor. Only this package imports
producers, streaming, batch and viz; nothing imports it."""
