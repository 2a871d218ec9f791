"""The scheduler's storage: saved KV states, in RAM or paged to files."""
