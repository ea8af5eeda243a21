"""glasswatch.kafka."""
