"""Settings that derive from others."""

from __future__ import annotations

from glasswatch.settings import Settings, TopicSettings


def test_the_delivery_log_follows_its_alerts_topic() -> None:
    # two alerts topics sharing one delivery log would each take the other's deliveries for their own
    assert TopicSettings().deliveries == "glasswatch-alerts.deliveries"
    assert TopicSettings(alerts="team-a-alerts").deliveries == "team-a-alerts.deliveries"
    assert TopicSettings(alerts="a", deliveries="own-log").deliveries == "own-log"
    nested = Settings.model_validate({"topics": {"alerts": "b"}})
    assert nested.topics.deliveries == "b.deliveries"
