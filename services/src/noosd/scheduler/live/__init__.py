"""The scheduler's threads: the machine's accelerators coming and going, and
the jobs' records the engine keeps.
"""
