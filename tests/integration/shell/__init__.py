"""Tests of noos-shell with the real services on a private bus."""
