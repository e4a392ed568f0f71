"""Media: the one place that runs ffmpeg (ffmpeg.py), composition and clip encoding (compose.py).

inspection.py holds the helpers that only the tests and benchmarks use (probing, packets,
frames, decoded samples); no module of the service imports it.
"""
