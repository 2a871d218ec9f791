"""Helpers shared by the memory benchmarks: model, cache, corpora, tables."""
