"""glasswatch.streams."""
