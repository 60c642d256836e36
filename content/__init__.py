"""Content domain: programs and their pages, categories, media and renditions, the service
directory and announcements. Plain functions over `storage.Database`; no web layer here.
"""
