"""What obtui knows about a file (facts, sha256) and how it writes outputs atomically."""
