"""The stages a file goes through: watcher -> settle -> intake -> dispatcher -> processor."""
