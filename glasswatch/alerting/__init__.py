"""glasswatch.alerting."""
