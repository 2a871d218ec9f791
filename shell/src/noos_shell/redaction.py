"""What looks like a secret, taken out of a text before memory keeps it.

Memory recalls what it keeps as context, and a remote model may be sent it: a
token or password typed on a command line, or printed by a command, must not
be kept. Each pattern below replaces the secret alone with REDACTED, so what
was done (`export GITHUB_TOKEN=[REDACTED]`) is still remembered. Patterns
err on the side of redacting: a redacted port number costs less than a
leaked password.
"""

from __future__ import annotations

import re

REDACTED = "[REDACTED]"

# Names of options and variables whose value is a secret: --password, DB_PASS,
# GITHUB_TOKEN, client_secret, api-key, AWS_SECRET_ACCESS_KEY, passphrase...
_SECRET_NAME = (
    r"[A-Za-z0-9_.-]*?"
    r"(?:passw(?:or)?d|passphrase|pass|pwd|secret|token|credentials?|api[_-]?key"
    r"|access[_-]?key|private[_-]?key|auth[_-]?key|session[_-]?key)"
    r"[A-Za-z0-9_-]*"
)
# A value as a shell word: quoted, or up to the next space, or what ends a
# word in a command line (a URL's &, ;, |, a closing parenthesis or backtick).
_VALUE = r"""(?:"[^"]*"|'[^']*'|[^\s&'"`;|)]+)"""

# A pattern's group `kept`, if it has one, stays: it says what was redacted.
_PATTERNS = [
    # PEM private keys, whole; or their end alone (the last lines of an output).
    re.compile(
        r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)",
        re.DOTALL,
    ),
    re.compile(r"(?:[A-Za-z0-9+/=]{16,}[\s|]*)+-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    # Tokens with a known shape.
    re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
    re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"),
    re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}"),
    re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+"),  # JWTs
    # Authorization headers and bearer tokens: the scheme stays.
    re.compile(
        r"(?P<kept>(?:Proxy-)?Authorization\s*:\s*(?:Bearer|Basic|Token|Digest|Negotiate)?\s*)[^\s'\"]+",
        re.IGNORECASE,
    ),
    re.compile(r"(?P<kept>\bBearer\s+)[^\s'\"]+", re.IGNORECASE),
    # user:password@ in a URL.
    re.compile(r"(?P<kept>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+(?=@)"),
    # NAME=value and --name=value, export FOO_TOKEN=..., password: value.
    re.compile(rf"(?P<kept>\b{_SECRET_NAME}\s*[=:]\s*){_VALUE}", re.IGNORECASE),
    # --password value, --token value, -P value of sshpass-like tools.
    re.compile(rf"(?P<kept>(?<!\S)--?{_SECRET_NAME}\s+){_VALUE}", re.IGNORECASE),
    # Long random-looking words: upper and lower case letters and digits, 32
    # or more in a row (a path's or a name's separators break the run).
    re.compile(
        r"(?<![A-Za-z0-9+])(?=[A-Za-z0-9+]*[a-z])(?=[A-Za-z0-9+]*[A-Z])"
        r"(?=[A-Za-z0-9+]*[0-9])[A-Za-z0-9+]{32,}={0,2}"
    ),
]
# -pvalue, as the MySQL tools take a password; only on their lines: `find -print`
# and `docker run -p8080:80` are no secret.
_MYSQL_LINE = re.compile(r"\b(?:mysql|mariadb)[a-z-]*\b")
_ATTACHED_PASSWORD = re.compile(r"(?P<kept>(?<!\S)-p)[^\s'\"]+")


def _replace(match: re.Match[str]) -> str:
    return (match.groupdict().get("kept") or "") + REDACTED


def redact_secrets(text: str) -> str:
    """`text` with every secret-like part replaced by REDACTED."""
    for pattern in _PATTERNS:
        text = pattern.sub(_replace, text)
    if _MYSQL_LINE.search(text):
        text = "\n".join(
            _ATTACHED_PASSWORD.sub(_replace, line) if _MYSQL_LINE.search(line) else line
            for line in text.split("\n")
        )
    return text
