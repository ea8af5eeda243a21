"""glasswatch."""
