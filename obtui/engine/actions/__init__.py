"""What runs on a file: the note, folder summary and command actions, and the post-actions."""
