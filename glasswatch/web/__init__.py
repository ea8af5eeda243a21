"""glasswatch.web."""
