"""The record of outcomes: the SQLite store, its group-commit writer, queries and runtime files."""
