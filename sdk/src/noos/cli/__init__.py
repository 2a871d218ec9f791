"""The `noos` command."""

from noos.cli.main import main

__all__ = ["main"]
