"""Memory's pure core: kinds, scoring, tiering, filters, validation, codecs and
time in texts; no threads, no I/O, no bus.
"""
