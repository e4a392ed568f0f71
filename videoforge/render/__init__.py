"""Rendering with Pillow: slide layouts and their drawing, and one module per animation type."""
