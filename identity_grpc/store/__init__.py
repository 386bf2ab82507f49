"""The store: Peewee models, how to open a database from a URL, and the schema's
versioned upgrades. Everything above it speaks models, never SQL dialects."""
