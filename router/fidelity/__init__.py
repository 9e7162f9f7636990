"""Read-back: OCR engines, scoring against the source, and the guard that acts on the verdicts."""
