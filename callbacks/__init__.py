"""Callback requests: a household asks an office to call it back; staff work the queue.

Plain functions over `storage.Database`; imports nothing of the web layer.
"""
