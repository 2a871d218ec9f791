"""Unit tests of the scheduler's policy core (noosd.scheduler), on a simulated clock."""
