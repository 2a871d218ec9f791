"""Memory's storage: one user's memories in SQLite (the source of truth), the
hot tier in RAM and the warm tier in chromadb.
"""
