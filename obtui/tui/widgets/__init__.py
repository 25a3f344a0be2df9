"""Dashboard panes. Each is fed whole snapshots by its screen and never talks to the engine."""
