"""Cluster mode: several obtui hosts on one shared bucket, coordinated by Redis Streams.

Nothing here is imported unless `[cluster]` (or `--cluster URL`, `$OBTUI_REDIS_URL`) is set:
redis-py is loaded only by these modules.
"""
