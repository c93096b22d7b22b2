"""The pytest side of an audit: plugin, run command, progress and scenario selection."""
