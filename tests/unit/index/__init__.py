"""Unit tests of the file index's domain core (noosd.index): chunking, ignore
rules, file types, query parsing, ranking, changes and snippets."""
