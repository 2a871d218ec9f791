"""Unit tests of the memory store (noosd.memory): its math, storage and behaviour."""
