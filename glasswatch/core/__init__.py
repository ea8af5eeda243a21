"""glasswatch.core."""
