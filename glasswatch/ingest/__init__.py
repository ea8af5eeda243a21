"""glasswatch.ingest."""
