"""The benchmarks (`make bench`): ratios against a baseline measured in the same run."""

# First: thread counts and offline switches, before numpy or torch is imported.
import tests.bench.support.environment  # noqa: F401
