"""The index at work by itself: the crawler, the watcher, pending changes,
roots, removable media, and the store's worker.
"""
