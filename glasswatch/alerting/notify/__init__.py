"""glasswatch.alerting.notify."""
