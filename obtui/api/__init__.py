"""The contract between the engine and its clients: snapshots, control, the host protocol, wire messages."""
