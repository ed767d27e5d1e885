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
import math
import re
from collections import Counter
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
                           "unset", "empty", "example", "placeholder", "rotated", "stored", "managed", "enabled",
                           "disabled", "yes", "no", "on", "off", "set", "n/a", "tbd", "todo", "masked", "hidden",
                           "secret", "token", "password", "expired", "revoked", "pending", "generated", "random"})
# Keywords whose value is a password even when it is a plain word (`password: swordfish`); the other
# credential keywords (token, secret, key) also name switches and kinds (`csrf_token: enabled`), so
# their values must look like a credential: letters and digits, or high entropy.
_PASSWORD_WORDS = re.compile(r"pass|pwd|contrase", re.IGNORECASE)
_WORDS = re.compile(r"[A-Za-z]+(?:[-_.' ][A-Za-z]+)*")
_B64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_"


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


def entropy(value: str) -> float:
    """Shannon entropy per character over the base64 alphabet: detect-secrets' own measure
    (`Base64HighEntropyString.calculate_shannon_entropy`), without importing it for every value."""
    if not value:
        return 0.0
    n = len(value)
    return -sum((c / n) * math.log2(c / n) for c in Counter(ch for ch in value if ch in _B64_CHARS).values())


def high_entropy(value: str, slack: float = 0.0) -> bool:
    """Random enough to be a generated credential. detect-secrets flags quoted base64 strings above 4.5
    bits a character; a string of n characters can reach at most log2(n) (4.3 at 20), so the limit
    scales with the length: 0.85·log2(n), capped at 4.5. Letters and digits both, and not only
    lowercase hex (checksums, commit and trace ids are that)."""
    if len(value) < 16 or not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    if re.fullmatch(r"[0-9a-f-]+", value):
        return False
    return entropy(value) >= min(4.5, 0.85 * math.log2(len(value))) - slack


def _plain_value(value: str) -> str:
    return value.strip("\"'`").rstrip(".,;:!?)")


def _not_a_value(v: str) -> bool:
    """References, placeholders, numbers, paths and shell variables are not credentials."""
    return (len(v) < 4 or is_reference(v) or v.lower() in _PLACEHOLDERS or v.replace(".", "").isdigit()
            or v.startswith(("/", "./", "../", "~/", "$", "<")) or "://" in v)


def _looks_like_password(value: str) -> bool:
    """A keyword's value that is a credential: not a reference, placeholder, number or path; and,
    unless the keyword is a password's, not a plain word either."""
    v = _plain_value(value)
    if _not_a_value(v):
        return False
    if _WORDS.fullmatch(v):
        return False
    return any(c.isdigit() for c in v) or not v.isalnum() or high_entropy(v)


def _password_value(value: str) -> bool:
    """The value of `password: X` / `pwd=X`: any word that is not a placeholder or a path counts."""
    v = _plain_value(value)
    return not _not_a_value(v) and (not _WORDS.fullmatch(v) or (v.isalpha() and len(v) >= 6))


def _prose_password(value: str) -> bool:
    """In prose ("the password is X") only a word with a digit is a password: 'is required', 'is
    rotated', 'was re-issued', 'is per-tenant' are not."""
    v = _plain_value(value)
    return not _not_a_value(v) and any(c.isdigit() for c in v) and any(c.isalpha() for c in v)


def _curl_secret(value: str) -> bool:
    """`curl -u user:password`: a literal password, not `$USER:$TOKEN`."""
    password = value.split(":", 1)[1]
    return bool(password) and not (is_reference(password) or password.startswith("$"))


def _api_secret_key(value: str) -> bool:
    """`sk-…` keys are random: upper and lower case and digits after the prefix (`sk-learn-…` is a package)."""
    body = value[3:]
    return any(c.isupper() for c in body) and any(c.islower() for c in body) and any(c.isdigit() for c in body)


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


_KEYS = r"(?:secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key)"
_PASS_KEYS = r"(?:password|passwd|passphrase|pwd)"
_I = re.IGNORECASE

# Anchors: literal → [(confirming pattern or None, kinds it gates)]. One Aho-Corasick pass finds
# every literal in the lowercased text; a confirming pattern is then matched only at those spots.
_Anchor = list[tuple[bytes | Callable[[bytes, int], bool] | None, tuple[str, ...]]]
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
    b"npm_": [(rb"npm_[a-z0-9]{36}", ("npm token",))],
    b"_authtoken": [(None, ("npm token",))],
    b"pypi-age": [(None, ("PyPI token",))],
    b"sg.": [(rb"sg\.[a-z0-9_-]{22}\.", ("SendGrid API key",))],
}
# Anchors matched on the text as written (not lowercased): "ac" occurs everywhere in lowercased text
# (a 1 MB export has tens of thousands), "AC"/"SK" starting a 34-character id almost nowhere.
CASED_ANCHORS: dict[bytes, _Anchor] = {
    p: [(rb"(?<![0-9A-Za-z])(?:AC|SK)[0-9a-fA-F]{32}(?![0-9A-Za-z])", ("Twilio key",))] for p in (b"AC", b"SK")}
# Words that make the next long random token a credential ("the deploy token for CI is X"): detect-secrets'
# KeywordDetector list (keyword.DENYLIST: api_key, auth_key, service_key, …, password, passwd, pwd, secret)
# plus token, credential and bearer, which it lacks. The token must pass `high_entropy`.
CONTEXT_KEYWORDS = (r"(?:api|auth|service|account|client|db|database|priv|private|access)[_ -]?key|"
                    r"(?:db|database|key)[_ -]?pass|pass(?:word|wd|phrase)|pwd|secret|token|credentials?|bearer|"
                    r"contrase(?:ñ|n)a")
_CONTEXT = ("high-entropy credential",)
# Kinds found by the words around a value (`password is X`, `api_key=X`, a keyword then a random token),
# not by the value's own shape: values glued together without a space make no words (secrets.split_credentials).
WORD_CONTEXT_KINDS = frozenset(_KV + _PROSE + _CONTEXT + ("curl user:password",))
_CONTEXT_TOKEN = re.compile(rb"[^\n]{0,40}?(?<![a-z0-9+/_\-.~])([a-z0-9+/_\-.~]{16,})")


def _context_token(low: bytes, start: int) -> bool:
    """Prefilter of the context rule, at an anchor in the lowercased text: a random-looking token follows
    within 40 characters (entropy of the lowercased token, 0.1 bit a character below the rule's limit
    since case is lost here)."""
    pos = start
    for _ in range(3):  # the next few tokens on the line
        m = _CONTEXT_TOKEN.match(low, pos)
        if not m:
            return False
        token = m.group(1).decode("ascii").rstrip(".")
        if high_entropy(token, slack=0.1):
            return True
        pos = m.end()
        if pos - start > 60:
            return False
    return False


for _lit in (b"apikey", b"api_key", b"api-key", b"api key", b"authkey", b"auth_key", b"auth key", b"service_key",
             b"service key", b"account_key", b"account key", b"client_key", b"client key", b"db_key", b"privkey",
             b"priv_key", b"private_key", b"private key", b"access key", b"access_key", b"accesskey", b"pass", b"pwd",
             b"secret", b"token", b"credential", b"bearer", b"contrase"):
    ANCHORS.setdefault(_lit, []).append((_context_token, _CONTEXT))


@cache
def rules() -> dict[str, list[Rule]]:
    """Every rule, by kind. detect-secrets is imported here, on the first anchor hit."""
    from detect_secrets.plugins.aws import AWSKeyDetector
    from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
    from detect_secrets.plugins.basic_auth import BasicAuthDetector
    from detect_secrets.plugins.github_token import GitHubTokenDetector
    from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
    from detect_secrets.plugins.jwt import JwtTokenDetector
    from detect_secrets.plugins.npm import NpmDetector
    from detect_secrets.plugins.openai import OpenAIDetector
    from detect_secrets.plugins.private_key import PrivateKeyDetector
    from detect_secrets.plugins.pypi_token import PypiTokenDetector
    from detect_secrets.plugins.sendgrid import SendGridDetector
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
        Rule("API secret key", own, _c(r"\bsk-[A-Za-z0-9_-]{20,}"), check=_api_secret_key),
        *plugin("JSON web token", JwtTokenDetector, check=JwtTokenDetector.is_formally_valid),
        *plugin("private key", PrivateKeyDetector, extend=False, whole_block=True),
        Rule("password assignment", own, _c(
            rf"(?<![A-Za-z0-9])(?:[A-Za-z0-9]+[_-])?{_KEYS}[\"']?[ \t]*[:=][ \t]*[\"']?(?P<v>[^\s\"',;&]{{4,}})", _I),
            group="v", check=_looks_like_password),
        Rule("password assignment", own, _c(
            rf"(?<![A-Za-z0-9])(?:[A-Za-z0-9]+[_-])?{_PASS_KEYS}[\"']?[ \t]*[:=][ \t]*[\"']?"
            r"(?P<v>[^\s\"',;&]{4,})", _I), group="v", check=_password_value),
        Rule("password in prose", own, _c(
            r"\b(?:password|passphrase|passwd|secret|token|api key|credentials?)\s+(?:is|was|are)\s*:?\s*"
            r"[\"'`]?(?P<v>[^\s\"'`,;]{4,})", _I), group="v", check=_prose_password),
        Rule("curl user:password", own, _c(
            r"\bcurl\b[^\n]*?\s(?:-u|--user)(?:\s+|=)[\"']?(?P<v>[^\s\"':]+:[^\s\"']+)", _I), group="v",
            extend=False, check=_curl_secret),
        # Kinds detect-secrets 1.5 has plugins for that the first rule set lacked (issue 22).
        *plugin("npm token", NpmDetector, group=1, extend=False),
        Rule("npm token", own, _c(r"\bnpm_[A-Za-z0-9]{36}(?![A-Za-z0-9])")),
        *plugin("PyPI token", PypiTokenDetector),
        Rule("PyPI token", own, _c(r"\bpypi-AgE[A-Za-z0-9_-]{40,}")),  # shorter than the plugin's 70+ too
        *plugin("SendGrid API key", SendGridDetector),
        # TwilioKeyDetector's `AC[a-z0-9]{32}` / `SK[a-z0-9]{32}` with word bounds and hex digits: unbounded
        # it matches inside any longer identifier.
        Rule("Twilio key", "detect-secrets TwilioKeyDetector (bounded)",
             _c(r"(?<![A-Za-z0-9])(?:AC|SK)[0-9a-fA-F]{32}(?![A-Za-z0-9])")),
        Rule("high-entropy credential", "detect-secrets KeywordDetector words + entropy", _c(
            rf"(?:{CONTEXT_KEYWORDS})[^\n]{{0,40}}?(?<![A-Za-z0-9+/_\-.~])(?P<v>[A-Za-z0-9+/_\-.~]{{16,}}=*)", _I),
            group="v", check=lambda v: high_entropy(v.rstrip(".")), extend=False),
    ]
    by_kind: dict[str, list[Rule]] = {}
    for r in table:
        by_kind.setdefault(r.kind, []).append(r)
    return by_kind
