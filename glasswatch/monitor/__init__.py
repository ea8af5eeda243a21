"""glasswatch.monitor."""
