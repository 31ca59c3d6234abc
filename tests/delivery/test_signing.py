"""Signatures follow Standard Webhooks: the specification's published test vector, and a
round trip through the reference verifier."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from widget_api.delivery.signing import InvalidSecret, check_secret, new_secret, signature_headers

# The vector published with the specification's reference libraries (standard-webhooks
# repository, libraries/*/tests: "test_sign_function").
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = '{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_specification_test_vector() -> None:
    at = datetime.fromtimestamp(VECTOR_TIMESTAMP, UTC)
    headers = signature_headers(VECTOR_SECRET, VECTOR_ID, VECTOR_BODY, at)
    assert headers == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }


def test_fresh_signature_verifies_and_a_changed_body_does_not() -> None:
    secret = new_secret()
    headers = signature_headers(secret, "msg_1", '{"a":1}')
    assert Webhook(secret).verify('{"a":1}', headers) == {"a": 1}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify('{"a":2}', headers)


@pytest.mark.parametrize(
    "secret", ["", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", "whsec_AAAA"]
)
def test_unusable_secrets_are_refused(secret: str) -> None:
    with pytest.raises(InvalidSecret):
        check_secret(secret)


def test_generated_secrets_are_valid() -> None:
    check_secret(new_secret())
