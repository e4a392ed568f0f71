"""Image sources for slides: a local folder, Openverse, Wikimedia Commons, Unsplash, Pexels.

Each source implements ``ImageSource``: ``find(query, workdir=..., size=...)`` returns a
``FoundImage`` (a checked RGB PNG under workdir plus its credit) or None. The API sources
(one module each) subclass ``api.ApiSource``: they write the search, and every one of them
downloads through the one routine ``api.download``, with a ``SafeFetcher`` whose allowed
hosts are the source's ``*_HOSTS`` constant. Their ``base_url`` lets tests point them at a
local server. ``ImageFinder`` (finder.py) tries sources in order and moves on when one fails.
"""
