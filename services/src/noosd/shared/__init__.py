"""The kit the services share: embedding, models, SQLite, chromadb, vector arrays."""
