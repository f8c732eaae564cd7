"""Curvature tools (placeholder, filled below)."""
