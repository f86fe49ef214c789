"""What an indicator is (issue 13): ThreatFox's threat type, a malware family, reference URLs.

Pure checks and normalisations, shared by the command grammar, forms, imports and exports. Each raises
`ContextError` with what was wrong and how to write it right; callers turn it into their own error.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# ThreatFox's threat types (https://threatfox.abuse.ch/api/ `types`), plus the kinds coalitions share most often;
# each with the STIX 2.1 indicator-type-ov it maps to.
THREAT_TYPES: dict[str, tuple[str, str]] = {
    "botnet_cc": ("a botnet command-and-control server", "malicious-activity"),
    "payload_delivery": ("a host or URL that delivers a payload", "malicious-activity"),
    "payload": ("a malware sample (a file hash)", "malicious-activity"),
    "cc_skimming": ("credit-card skimming (web skimmer)", "malicious-activity"),
    "phishing": ("a phishing site or sender", "malicious-activity"),
    "scanner": ("a host scanning or brute-forcing", "anomalous-activity"),
    "ransomware_leak": ("a ransomware group's leak site", "malicious-activity"),
    "anonymizer": ("a proxy, VPN or Tor exit used to hide", "anonymization"),
    "compromised": ("a legitimate host taken over", "compromised"),
}
_THREAT_ALIASES = {"c2": "botnet_cc", "cc": "botnet_cc", "c&c": "botnet_cc", "botnet": "botnet_cc",
                   "delivery": "payload_delivery", "skimming": "cc_skimming", "leak": "ransomware_leak",
                   "proxy": "anonymizer"}

MALWARE_MAX_LEN = 64
REFERENCES_MAX = 3
REFERENCE_MAX_LEN = 500

_MALWARE = re.compile(rf"[a-z0-9][a-z0-9._]{{0,{MALWARE_MAX_LEN - 1}}}")  # fullmatch, after normalising
_HOST = re.compile(r"[A-Za-z0-9.\-\[\]:]+")  # fullmatch: a name, an IPv4 or a bracketed IPv6, with a port


class ContextError(ValueError):
    pass


def threat_types_text() -> str:
    return ", ".join(THREAT_TYPES)


def threat_type(raw: str) -> str:
    """A threat type, by name or a common alias (c2 is botnet_cc); an unknown one lists them."""
    word = raw.strip().lower().replace("-", "_")
    word = _THREAT_ALIASES.get(word, word)
    if word not in THREAT_TYPES:
        raise ContextError(f"threat: takes one of {threat_types_text()}, not '{_short(raw)}'")
    return word


def indicator_types(threat: str) -> list[str]:
    """STIX `indicator_types` for a threat type (malicious-activity when none is given)."""
    return [THREAT_TYPES[threat][1]] if threat in THREAT_TYPES else ["malicious-activity"]


def malware_name(raw: str) -> str:
    """A malware family's name as stored and matched: lower case, spaces and hyphens as underscores
    (`Cobalt Strike`, `cobalt-strike` and `COBALT_STRIKE` are one family, `cobalt_strike`)."""
    name = re.sub(r"[\s\-]+", "_", raw.strip().lower())
    if not _MALWARE.fullmatch(name):
        raise ContextError(f"malware: '{_short(raw)}' is not a family name; write letters, digits, . and _ (spaces "
                           f"and hyphens become _), up to {MALWARE_MAX_LEN}, e.g. malware:emotet or "
                           "malware:cobalt_strike")
    return name


def reference(raw: str) -> str:
    """A reference URL: http or https, with a host, no spaces (defanged forms are accepted and refanged)."""
    text = raw.strip()
    low = text.lower()
    if low.startswith("hxxp"):
        text = "http" + text[4:]
    text = text.replace("[.]", ".").replace("(.)", ".").replace("[:]", ":")
    try:
        parts = urlsplit(text)
        _ = parts.port  # a port out of range raises
        host_ok = bool(parts.hostname) and _HOST.fullmatch(parts.netloc.rpartition("@")[2]) is not None
    except ValueError:
        host_ok = False
    if (parts.scheme.lower() not in ("http", "https") if host_ok else True) or not host_ok \
            or len(text) > REFERENCE_MAX_LEN or not text.isprintable() or any(c.isspace() for c in text):
        raise ContextError(f"ref: '{_short(raw)}' is not a reference URL; give an http or https address of up to "
                           f"{REFERENCE_MAX_LEN} characters, e.g. ref:https://example.org/report")
    return text


def references(raws: list[str]) -> tuple[str, ...]:
    found = tuple(dict.fromkeys(reference(r) for r in raws if r.strip()))
    if len(found) > REFERENCES_MAX:
        raise ContextError(f"at most {REFERENCES_MAX} references (ref:URL), not {len(found)}")
    return found


def shown_reference(url: str) -> str:
    """A reference as cards show it: defanged, so that no chat turns it into a link."""
    from bot.ioc import defang  # loaded with the first card that shows a reference

    return defang(url)


def _short(text: str, width: int = 60) -> str:
    text = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
    return text if len(text) <= width else text[: width - 1] + "…"
