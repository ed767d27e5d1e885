"""Fake credentials, one or more per kind the secret scan must catch, and look-alikes it must not.

Every value is assembled from parts at import time so this file does not itself look like a
leaked key to a scanner, and every value is obviously fake (FAKE, EXAMPLE, 0000…). Each entry is
(text as a user would write it, needle): the needle is the part that must never appear in any
output — the tests grep every stream, file, span and the Dagster home for it.
"""

from __future__ import annotations

import base64
import json


def _b64url(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def _j(*parts: str) -> str:
    return "".join(parts)


_JWT = ".".join([_b64url({"alg": "HS256", "typ": "JWT"}), _b64url({"sub": "fake-user-4711", "iat": 1700000000}),
                 _j("ZmFrZS1zaWduYXR1cmU", "tZXhhbXBsZQ")])
_BASIC = base64.b64encode(_j("ops-admin:", "Fake", "Pass", "9071").encode()).decode()
_PEM_BODY = _j("MIIEowIBAAKCAQEA", "FAKEFAKEFAKEFAKE", "0123456789abcdef")

# kind (as secret_rules names it) -> [(text, needle)]
CORPUS: dict[str, list[tuple[str, str]]] = {
    "URL user-info": [(_j("https://deployer:", "Zq7-fake", "-hunter-42", "@git.example.com/shop.git"),
                       _j("Zq7-fake", "-hunter-42"))],
    "Authorization header": [
        (_j("Authorization: Bearer ", "fAkE0tOkEn", "5e6f7a8b9c0d"), _j("fAkE0tOkEn", "5e6f7a8b9c0d")),
        (_j("Authorization: Basic ", _BASIC), _BASIC),
        (_j("send it with Bearer ", "9f8e7d6c5b4a", "3210FAKEfeed"), _j("9f8e7d6c5b4a", "3210FAKEfeed")),
    ],
    "Slack webhook URL": [(_j("https://hooks.slack.com/services/", "T00FAKE00/", "B00FAKE00/", "FakeFake0000",
                              "ExampleExample"), _j("FakeFake0000", "ExampleExample"))],
    "Discord webhook URL": [(_j("https://discord.com/api/webhooks/", "112233445566778899/", "fAkE-webhook",
                                "-ExampleExample0000"), _j("fAkE-webhook", "-ExampleExample0000"))],
    "Microsoft Teams webhook URL": [(_j("https://contoso.webhook.office.com/webhookb2/", "0000fake-0000",
                                        "@0000/IncomingWebhook/", "fakefakefake0000", "/0000-example"),
                                     _j("fakefakefake0000", "/0000-example"))],
    "Slack token": [(_j("xoxb-", "000000000000-", "000000000000-", "FakeFakeFake", "ExampleToken"),
                     _j("FakeFakeFake", "ExampleToken"))],
    "GitHub token": [
        (_j("ghp_", "FAKE0fake1FAKE2fake3", "FAKE4fake5FAKE6f"), _j("FAKE0fake1FAKE2fake3", "FAKE4fake5FAKE6f")),
        (_j("github_pat_", "11FAKE0000", "fakefakefake_", "ExampleExampleExample0000"),
         _j("fakefakefake_", "ExampleExampleExample0000")),
    ],
    "GitLab token": [(_j("glpat-", "FakeFake", "Example00000"), _j("FakeFake", "Example00000"))],
    "AWS access key": [(_j("AKIA", "FAKE", "EXAMPLE", "00000"), _j("FAKE", "EXAMPLE", "00000"))],
    "AWS secret access key": [(_j("aws_secret_access_key = ", "wJalrFAKEfakeFAKE", "/K7MDENG/bPxRfi", "EXAMPLEK"),
                               _j("wJalrFAKEfakeFAKE", "/K7MDENG/bPxRfi"))],
    "Google API key": [(_j("AIza", "SyFAKE", "-fake_FAKEfakeFAKE", "fakeEXAMPLE00"),
                        _j("SyFAKE", "-fake_FAKEfakeFAKE"))],
    "Azure storage key": [(_j("DefaultEndpointsProtocol=https;AccountName=fakeacct;AccountKey=",
                              "FAKE" * 21, "fake==", ";EndpointSuffix=core.windows.net"), "FAKE" * 21)],
    "Stripe key": [(_j("sk_live_", "FAKEfake", "0000EXAMPLE0000fake"), _j("FAKEfake", "0000EXAMPLE0000fake")),
                   (_j("sk_test_", "FAKEfake", "1111EXAMPLE1111fake"), _j("FAKEfake", "1111EXAMPLE1111fake"))],
    "API secret key": [(_j("sk-", "proj-FAKEfake", "0000EXAMPLE0000"), _j("FAKEfake", "0000EXAMPLE0000"))],
    "Azure SAS signature": [(_j("https://fakeacct.blob.core.windows.net/logs?sv=2022-11-02&sp=r&sig=",
                                "FAKEfake0000", "EXAMPLEexample%3D"), _j("FAKEfake0000", "EXAMPLEexample"))],
    "JSON web token": [(_JWT, _JWT.split(".")[1])],
    "private key": [(_j("-----BEGIN ", "RSA PRIVATE KEY-----\n", _PEM_BODY, "\n-----END RSA PRIVATE KEY-----"),
                     _PEM_BODY)],
    "password assignment": [
        (_j("password=", "hunter", "-fake-22"), _j("hunter", "-fake-22")),
        (_j("secret: ", "Sup3r", "Fake", "Secret"), _j("Sup3r", "Fake", "Secret")),
        (_j("token: ", "tkn", "_FAKE_", "9f8e7d6c"), _j("tkn", "_FAKE_", "9f8e7d6c")),
    ],
    "curl user:password": [(_j("curl -u admin:", "Pa55", "Fake", "W0rd https://api.example.com/v1"),
                            _j("Pa55", "Fake", "W0rd"))],
    "password in prose": [(_j("the staging db password is ", "Tr0ub4dor", "&Fake3"), _j("Tr0ub4dor", "&Fake3"))],
    # issue 22: kinds the first rule set did not know
    "npm token": [(_j("npm_", "FAKE0fake1FAKE2fake3", "FAKE4fake5FAKE6f"), _j("FAKE0fake1FAKE2fake3", "FAKE4fake5")),
                  (_j("//registry.npmjs.org/:_authToken=", "0000fa4e-", "0000-fa4e-0000-", "00000000fa4e"),
                   _j("0000fa4e-", "0000-fa4e-0000-", "00000000fa4e"))],
    "PyPI token": [(_j("pypi-", "AgEIcHlwaS5vcmc", "CJFAKEfake0000", "EXAMPLEexample", "FAKEfake0000EXAMPLE",
                       "example0000FAKEfakeFAKE", "fake000000"), _j("CJFAKEfake0000", "EXAMPLEexample"))],
    "Twilio key": [(_j("AC", "deadbeef0000", "0000cafe0000", "feedf00d"), _j("deadbeef0000", "0000cafe0000")),
                   (_j("twilio api key SK", "00fa4e00", "00000000fa4e0000", "00000000"),
                    _j("00fa4e00", "00000000fa4e"))],
    "SendGrid API key": [(_j("SG.", "FAKEfake0000", "EXAMPLE000", ".", "FAKEfake0000EXAMPLE0000", "fakeFAKEfake",
                             "00000000"), _j("FAKEfake0000EXAMPLE0000", "fakeFAKEfake"))],
    "high-entropy credential": [
        (_j("the deploy token for CI is ", "FAKEq7Lm2Kp", "4Rt8Vb6Nc3Hd0"), _j("FAKEq7Lm2Kp", "4Rt8Vb6Nc3Hd0")),
        (_j("datadog api key ", "fAkE9x2Q", "mZ7pL0vK3w"), _j("fAkE9x2Q", "mZ7pL0vK3w")),
    ],
}

# A credential that is not written plainly: base64-wrapped (decoded and scanned), and one split across
# two neighbouring fields (scanned joined). Each: (field values in document order, needles).
_WRAPPED_TOKEN = _j("ghp_", "FAKE9fake8FAKE7fake6", "FAKE5fake4FAKE3f")
WRAPPED: dict[str, tuple[list[str], list[str]]] = {
    "base64-wrapped GitHub token": ([base64.b64encode(_WRAPPED_TOKEN.encode()).decode()],
                                    [base64.b64encode(_WRAPPED_TOKEN.encode()).decode()[:40]]),
    "base64-wrapped password": ([base64.b64encode(_j("db_password=", "Fake", "Pass", "7781").encode()).decode()],
                                [base64.b64encode(_j("db_password=", "Fake", "Pass", "7781").encode()).decode()]),
    "Stripe key split across two fields": ([_j("sk_live_"), _j("FAKEfake", "2222EXAMPLE2222fake")],
                                           [_j("FAKEfake", "2222EXAMPLE2222fake")]),
    "password split from its keyword": ([_j("root password:"), _j("Fake", "Pass", "-3141")],
                                        [_j("Fake", "Pass", "-3141")]),
}

# Look-alikes that must not trip the scan.
NEGATIVES: list[str] = [
    "vault:secret/data/checkout/slack-webhook",
    "env:PAGERDUTY_ROUTING_KEY",
    "${SLACK_WEBHOOK_URL}",
    "secretRef: {name: alertmanager-slack, key: webhook-url}",
    "password: vault:kv/shop/db",
    "password is rotated every 90 days and stored in vault",
    "a token is required; the secret is managed by the platform team",
    "3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f",
    "sha256:" + "9f86d081884c7d659a2feaea0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0",
    "checkout-api-prometheus-rule",
    "svc-0001-notification-policy",
    'sum(rate(http_requests_total{job="checkout-api",namespace="shop",code=~"5.."}[5m]))'
    ' / sum(rate(http_requests_total{job="checkout-api",namespace="shop"}[5m]))',
    'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="api"}[5m])))',
    '{namespace="shop", app="checkout-api"} | json | level=~"(?i)(error|fatal)"',
    'sum(count_over_time({namespace="shop", app="api"} |~ "(?i)(error|fatal|panic)" [5m]))',
    "https://grafana.example.com/d/ctx-0123456789abcdef",
    "email:oncall@example.com",
    "max_tokens: 2000",
    "Basic authentication is disabled; use the bearer token from vault:kv/api",
    "pagerduty-critical",
    "#checkout-alerts",
    "AC" + "deadbeef0000" * 5,  # a hex run longer than a Twilio SID
    "sk-learn-" + "pipeline-upgrade-notes",
]
