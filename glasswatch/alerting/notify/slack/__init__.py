"""glasswatch.alerting.notify.slack."""
