"""The ground floor: plain types and the rules written once, importing nothing else of videoforge.

settings (the settings table), errors (the error tree), request (a generation request and its
validation), outline (outlines and documents into slides), types (slides, sizes, segments,
runs, events, usage), stages (the stage table), animation_spec (the animation-spec table),
mathexpr (the safe formula parser), text and languages (sentences, language names), files
(atomic writes, WAV lengths).
"""
