"""Render stage: chunk text and document pages to PNG pages at an encoder's geometry, checked complete."""
