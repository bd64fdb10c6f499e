"""Presentation: figures, playgrounds and the book's glue helper."""
