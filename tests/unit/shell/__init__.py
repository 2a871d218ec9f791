"""Tests of noos-shell without the services."""
