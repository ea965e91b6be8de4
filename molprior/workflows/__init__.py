"""End-to-end jobs (read, compute, write, track) that the CLI and notebooks call."""
