"""Rendering with Pillow: one text engine, slide layouts and their drawing, and animations.

`text` fits and cuts all text; `layout` places a slide's text and picture; `pictures` reads and
scales picture files; `draw` draws a layout into a PNG; `animations` has one module per type.
"""
