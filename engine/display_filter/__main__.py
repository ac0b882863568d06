"""Print the packet fields as the README lists them: ``python -m engine.display_filter``."""

from engine.display_filter.fields import markdown_table

print(markdown_table())
