"""The credential rules: Yelp's detect-secrets plugins where they fit, our own rules for the rest.

Each rule kind has *anchors*: literals that must occur in the lowercased text
before the kind's real patterns run. One Aho-Corasick pass (ahocorasick-rs)
finds all of them at once, so a clean 10 MB export costs one linear scan
instead of a regex pass per rule; only a hit pays for the full patterns. detect-secrets is imported on the first
hit (its import costs ~150 ms; a clean manifest never pays it).

Why own rules at all: detect-secrets 1.5 has no rule for GitHub fine-grained
tokens, Google API keys, Authorization headers, Discord/Teams webhook URLs,
Stripe test keys, unquoted AWS secrets, `curl -u`, or prose ("the password is
X"), and its KeywordDetector is tuned per source-file type (it takes the rest
of a config line as the secret and has no `token` key), which trips on prose.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

# Token characters a match is extended over, so a key longer than the plugin's fixed length
# (Stripe keys grew from 24 to 99 characters) or a JWT signature is redacted whole.
TOKEN_TAIL = re.compile(r"[A-Za-z0-9_\-+/=.~]*")
_REFERENCE = re.compile(
    r"^\s*[\"'`]?(?:vault:|env:|secretref:|secret-ref:|k8s-secret:|aws-sm:|gcp-sm:|azure-kv:|file:|"
    r"\$\{[A-Za-z_][\w.]*\}|\$[A-Za-z_]\w*$|\{\{[^}]*\}\}|<[^>]+>$|\[REDACTED\])", re.IGNORECASE)
# Values of `password: X` that are words about a password, not a password.
_PLACEHOLDERS = frozenset({"none", "null", "true", "false", "required", "optional", "redacted", "changeme",
                           "unset", "empty", "example", "placeholder", "rotated", "stored", "managed"})


def is_reference(value: str) -> bool:
    """`vault:path`, `env:NAME`, `${VAR}`, `secretRef:`…: how a manifest points at a secret."""
    return bool(_REFERENCE.match(value))


@dataclass(frozen=True)
class Rule:
    kind: str  # user-facing, e.g. "GitHub token"; the test corpus is keyed by it
    origin: str  # "detect-secrets <Plugin>" or "ctx-assets"
    pattern: re.Pattern[str]
    group: str | int = 0  # the part of a match that is the secret
    check: Callable[[str], bool] | None = None  # extra test of the secret part
    extend: bool = True  # extend the secret over trailing token characters
    whole_block: bool = False  # PEM: the secret runs to the END line


def _looks_like_password(value: str) -> bool:
    """A keyword's value that is a credential: not a reference, placeholder, number or plain word."""
    v = value.strip("\"'`").rstrip(".,;:!?)")
    return not (len(v) < 4 or is_reference(v) or v.lower() in _PLACEHOLDERS or v.replace(".", "").isdigit())


def _prose_password(value: str) -> bool:
    """In prose ("the password is X") only a word with a digit or a symbol is a password: 'is
    required', 'is rotated' are not."""
    v = value.rstrip(".,;:!?)")
    return _looks_like_password(v) and not v.isalpha()


def _bearer(value: str) -> bool:
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _basic(value: str) -> bool:
    """`Basic X` is a credential when X is base64 of `user:password`."""
    try:
        return b":" in base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False


def _c(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)


_KEYS = r"(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key)"
_I = re.IGNORECASE

# Anchors: literal → [(confirming pattern or None, kinds it gates)]. One Aho-Corasick pass finds
# every literal in the lowercased text; a confirming pattern is then matched only at those spots.
_Anchor = list[tuple[bytes | None, tuple[str, ...]]]
_KV, _PROSE = ("password assignment",), ("password in prose",)
_AUTH, _TEAMS = ("Authorization header",), ("Microsoft Teams webhook URL",)
ANCHORS: dict[bytes, _Anchor] = {
    b"://": [(rb"://[^/\s@\"'<>]{1,256}@", ("URL user-info",))],
    b"authorization": [(None, _AUTH)],
    b"bearer": [(rb"bearer\s", _AUTH)],
    b"basic": [(rb"basic\s", _AUTH)],
    b"hooks.slack.com/": [(None, ("Slack webhook URL",))],
    b"discord": [(None, ("Discord webhook URL",))],
    b"office.com/webhook": [(None, _TEAMS)],
    b"office365.com/webhook": [(None, _TEAMS)],
    b"logic.azure.com": [(None, _TEAMS)],
    b"xox": [(rb"xox[abposr]-", ("Slack token",))],
    b"xapp-": [(None, ("Slack token",))],
    **{p: [(None, ("GitHub token",))] for p in (b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_", b"github_pat_")},
    **{p: [(None, ("GitLab token",))] for p in (b"glpat-", b"gldt-", b"glft-", b"glsoat-", b"glrt-", b"glcbt-",
                                                 b"glimt-", b"glptt-", b"glagent-", b"gloas-", b"gr1348941")},
    **{p: [(rb"[a-z0-9]{4}[0-9a-z]{16}", ("AWS access key",))] for p in (b"a3t", b"abia", b"acca", b"akia", b"asia")},
    b"aws": [(None, ("AWS secret access key",))],
    b"aiza": [(None, ("Google API key",))],
    b"accountkey": [(rb"accountkey\s*=", ("Azure storage key",))],
    b"sharedaccesskey": [(rb"sharedaccesskey\s*=", ("Azure storage key",))],
    b"sig=": [(None, ("Azure SAS signature",))],
    b"k_live_": [(None, ("Stripe key",))],
    b"k_test_": [(None, ("Stripe key",))],
    b"sk-": [(None, ("API secret key",))],
    b"eyj": [(None, ("JSON web token",))],
    b"private key": [(None, ("private key",))],
    b"putty-user-key": [(None, ("private key",))],
    b"pass": [(None, _KV + _PROSE)],
    b"pwd": [(None, _KV)],
    b"secret": [(None, _KV + _PROSE + ("AWS secret access key",))],
    b"token": [(rb"token[\"']?[ \t]*[:=]", _KV), (rb"token\s+(?:is|was)\s", _PROSE)],
    **{p: [(None, _KV)] for p in (b"apikey", b"api_key", b"api-key", b"accesskey", b"access_key", b"access-key",
                                  b"privatekey", b"private_key", b"private-key")},
    b"api key": [(None, _PROSE)],
    b"credential": [(None, _PROSE)],
    b"curl": [(None, ("curl user:password",))],
}


@cache
def rules() -> dict[str, list[Rule]]:
    """Every rule, by kind. detect-secrets is imported here, on the first anchor hit."""
    from detect_secrets.plugins.aws import AWSKeyDetector
    from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
    from detect_secrets.plugins.basic_auth import BasicAuthDetector
    from detect_secrets.plugins.github_token import GitHubTokenDetector
    from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
    from detect_secrets.plugins.jwt import JwtTokenDetector
    from detect_secrets.plugins.openai import OpenAIDetector
    from detect_secrets.plugins.private_key import PrivateKeyDetector
    from detect_secrets.plugins.slack import SlackDetector
    from detect_secrets.plugins.stripe import StripeDetector

    def plugin(kind: str, cls: type, only: slice = slice(None), **kw: object) -> list[Rule]:
        """The plugin's own maintained patterns (`denylist`), run by our scanner so we get spans."""
        return [Rule(kind, f"detect-secrets {cls.__name__}", p, **kw)  # type: ignore[arg-type]
                for p in list(cls.denylist)[only]]  # type: ignore[attr-defined]

    own = "ctx-assets"
    table = [
        *plugin("URL user-info", BasicAuthDetector, group=1, extend=False),
        Rule("Authorization header", own, _c(
            r"authorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token|digest|apikey)\s+)?"
            r"(?P<v>[A-Za-z0-9\-._~+/]{8,}=*)", _I), group="v", check=_looks_like_password),
        Rule("Authorization header", own, _c(r"\bbearer\s+(?P<v>[A-Za-z0-9\-._~+/]{16,}=*)", _I), group="v",
             check=_bearer),
        Rule("Authorization header", own, _c(r"\bbasic\s+(?P<v>[A-Za-z0-9+/]{8,}={0,2})", _I), group="v",
             check=_basic),
        *plugin("Slack webhook URL", SlackDetector, slice(1, 2), extend=False),
        Rule("Slack webhook URL", own, _c(r"https://hooks\.slack\.com/(?:workflows|triggers)/[\w/-]+", _I),
             extend=False),
        Rule("Discord webhook URL", own, _c(
            r"https?://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[\w-]+", _I), extend=False),
        Rule("Microsoft Teams webhook URL", own, _c(
            r"https://[\w.-]*(?:webhook\.office|outlook\.office|outlook\.office365)\.com/webhook(?:b2)?/"
            r"[^\s\"'<>]+", _I), extend=False),
        Rule("Microsoft Teams webhook URL", own, _c(
            r"https://[\w.-]+\.logic\.azure\.com(?::\d+)?/workflows/[^\s\"'<>]*", _I), extend=False),
        *plugin("Slack token", SlackDetector, slice(0, 1)),
        Rule("Slack token", own, _c(r"\bxapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+", _I)),
        *plugin("GitHub token", GitHubTokenDetector),
        Rule("GitHub token", own, _c(r"\bgithub_pat_[A-Za-z0-9_]{22,}")),
        *plugin("GitLab token", GitLabTokenDetector),
        *plugin("AWS access key", AWSKeyDetector, slice(0, 1)),
        *plugin("AWS secret access key", AWSKeyDetector, slice(1, 2), group=1),
        Rule("AWS secret access key", own, _c(
            r"aws.{0,20}?(?:secret|key).{0,20}?[:=]\s*[\"']?(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])", _I),
            group="v"),
        Rule("Google API key", own, _c(r"AIza[0-9A-Za-z_\-]{35}")),
        *plugin("Azure storage key", AzureStorageKeyDetector),
        Rule("Azure storage key", own, _c(r"(?:SharedAccessKey|AccountKey)\s*=\s*(?P<v>[A-Za-z0-9+/]{20,}={0,2})", _I),
             group="v"),
        Rule("Azure SAS signature", own, _c(r"[?&]sig=(?P<v>[A-Za-z0-9%+/=]{20,})"), group="v"),
        *plugin("Stripe key", StripeDetector),
        Rule("Stripe key", own, _c(r"\b[rs]k_test_[0-9a-zA-Z]{24,}")),
        *plugin("API secret key", OpenAIDetector),
        Rule("API secret key", own, _c(r"\bsk-[A-Za-z0-9_-]{20,}")),
        *plugin("JSON web token", JwtTokenDetector, check=JwtTokenDetector.is_formally_valid),
        *plugin("private key", PrivateKeyDetector, extend=False, whole_block=True),
        Rule("password assignment", own, _c(
            rf"(?<![A-Za-z0-9])(?:[A-Za-z0-9]+[_-])?{_KEYS}[\"']?[ \t]*[:=][ \t]*[\"']?(?P<v>[^\s\"',;&]{{4,}})", _I),
            group="v", check=_looks_like_password),
        Rule("password in prose", own, _c(
            r"\b(?:password|passphrase|passwd|secret|token|api key|credentials?)\s+(?:is|was|are)\s*:?\s*"
            r"[\"'`]?(?P<v>[^\s\"'`,;]{4,})", _I), group="v", check=_prose_password),
        Rule("curl user:password", own, _c(
            r"\bcurl\b[^\n]*?\s(?:-u|--user)(?:\s+|=)[\"']?(?P<v>[^\s\"':]+:[^\s\"']+)", _I), group="v",
            extend=False),
    ]
    by_kind: dict[str, list[Rule]] = {}
    for r in table:
        by_kind.setdefault(r.kind, []).append(r)
    return by_kind
