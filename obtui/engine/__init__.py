"""The engine: composition root (engine.py), supervision (buckets, reload, publish), seams, stages."""
