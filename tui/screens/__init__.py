"""Modal screens: prompts and help."""
