"""Device registry: the official region tree, households' boxes, rollout waves and usage.

Plain async functions over `storage.Database`; imports nothing of the web layer.
"""
