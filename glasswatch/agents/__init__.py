"""glasswatch.agents."""
