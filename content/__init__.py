"""Content domain, one subpackage per part, each with its own `schema.py`: `programs` (programs
and their pages, categories, media, renditions, the editorial workflow, video), `directory` (the
service directory), `announcements`, and `laws` (the law register and citations). Plain
functions over `storage.Database`; no web layer here. `catalog/` holds the demo programs.
"""
