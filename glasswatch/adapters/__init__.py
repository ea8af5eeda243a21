"""glasswatch.adapters."""
