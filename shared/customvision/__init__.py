"""The Custom Vision service as the pipeline reaches it: SDK clients, retry and rate budget, signed links.

May import only the root modules (errors, settings, storage); every other package reaches the service here.
"""
