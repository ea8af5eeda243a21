"""glasswatch.commands."""
