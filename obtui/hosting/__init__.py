"""Running an engine: inline (headless), on a thread (tests), or in a child process (the dashboard)."""
