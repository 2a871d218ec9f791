"""Unit tests of the kit the services share (noosd.shared)."""
