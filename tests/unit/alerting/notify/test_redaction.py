from __future__ import annotations

from pydantic import SecretStr

from glasswatch.alerting.notify.redaction import REDACTED, Redactor, redact


def test_redacts_values_and_tails_longest_first() -> None:
    r = Redactor([SecretStr("abc-canary-123"), "abc-canary", None, ""])
    assert r("x abc-canary-123 y abc-canary z *-123") == f"x {REDACTED} y {REDACTED} z *{REDACTED}"


def test_short_secrets_only_whole() -> None:
    assert redact("key=abcd *bcd", ["abcd"]) == f"key={REDACTED} *bcd"


def test_extend_and_non_strings() -> None:
    r = Redactor(["secret-one"]).extend([SecretStr("secret-two")])
    assert r(ValueError("secret-one secret-two")) == f"{REDACTED} {REDACTED}"
