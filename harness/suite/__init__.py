"""The pytest side of an audit: plugin, run command, plan, progress and scenario selection."""
