"""The app's screens: the dashboard (main screen) and what the keys open on top of it."""
