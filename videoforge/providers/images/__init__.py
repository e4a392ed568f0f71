"""Image sources for slides: a local folder, Openverse, Wikimedia Commons, Unsplash, Pexels.

Each source implements ``ImageSource``: ``find(query, workdir=..., size=...)`` returns a
``FoundImage`` (a checked RGB PNG under workdir plus its credit) or None. The API sources
(one module each) subclass ``api.ApiSource``: they write the search, and every one of them
downloads through the one routine ``api.download``, with a ``SafeFetcher`` whose allowed
hosts are the source's ``*_HOSTS`` constant. Their ``base_url`` lets tests point them at a
local server. ``ImageFinder`` (finder.py) tries sources in order and moves on when one fails.
"""

from .api import ApiSource, Hit, download
from .finder import ImageFinder
from .library import LIBRARY_EXTENSIONS, LocalLibrary, match_words
from .openverse import OPENVERSE_HOSTS, Openverse, cc_license_name
from .pexels import PEXELS_HOSTS, Pexels
from .unsplash import UNSPLASH_HOSTS, Unsplash
from .wikimedia import WIKIMEDIA_HOSTS, WikimediaCommons, strip_html

__all__ = [
    "LIBRARY_EXTENSIONS",
    "OPENVERSE_HOSTS",
    "PEXELS_HOSTS",
    "UNSPLASH_HOSTS",
    "WIKIMEDIA_HOSTS",
    "ApiSource",
    "Hit",
    "ImageFinder",
    "LocalLibrary",
    "Openverse",
    "Pexels",
    "Unsplash",
    "WikimediaCommons",
    "cc_license_name",
    "download",
    "match_words",
    "strip_html",
]
