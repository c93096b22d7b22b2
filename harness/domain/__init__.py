"""The domain vocabulary, no I/O: claims, event ids, thresholds, storage kinds."""
