"""The widgets of the shell's main screen."""
