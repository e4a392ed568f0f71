"""videoforge: narrated slide videos from a topic, an outline or a document."""

__version__ = "0.1.0"
