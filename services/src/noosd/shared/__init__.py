"""The kit the services share: embedding, models, SQLite, chromadb, vector
arrays, the in-RAM vector matrix and its int8 quantisation, the outbox that
keeps chromadb following SQLite, and the background opener."""
