"""IOC extraction engine: find every indicator in a chat message, in one canonical form.

Platform-neutral (no Slack/Discord/SQLAlchemy import, no I/O at import time; the Public Suffix
List and the MISP warninglists are read lazily from their packages on first use).

Public interface: :class:`IOCType`, :class:`Observable`, :func:`extract`, :func:`extract_grouped`,
:func:`classify`, :func:`refang`, :func:`defang`, :class:`WarningLists`, :data:`DEFAULT_WARNINGLISTS`.

Decisions (free-text extraction)
--------------------------------
* Everything is refanged first: ``hxxp``/``hxxps``/``fxp``/``h**p``/``meow``, ``[.]`` ``(.)``
  ``{.}`` ``[dot]`` ``(dot)`` (any case, optional inner/outer space), ``\\.``, ``[:]``, ``[://]``,
  ``[/]``, ``[@]`` ``[at]`` ``(at)``; zero-width and bidi controls are deleted; full-width ASCII,
  ideographic and half-width dots are mapped to ASCII; Slack ``<url|label>``, ``<mailto:..|..>``,
  ``<@U..>``, ``&amp;``; Discord ``||spoilers||``, code spans and blocks, ``<url>`` (no embed);
  Markdown ``[label](url)``.
* A URL is reported once, as a URL: its host (domain or IP) is not reported again, nor any value
  inside its path. An e-mail's domain is not reported again. This is positional: the same domain
  written elsewhere in the message on its own is reported as a domain.
* URLs keep their scheme (lower-cased), user-info, port and path/query as written; the host is
  lower-cased, punycoded (``xn--``), IPv6 hosts compressed in brackets.
* Without a scheme, ``host/path`` (``evil.example/login.php``, ``1.2.3.4/x``) is a URL written as
  is (no scheme invented); ``host:port`` alone is the host (``1.2.3.4:443`` -> ipv4 ``1.2.3.4``).
* Slack's auto-link of a bare domain, ``<http://x.com|x.com>``, is the domain ``x.com``.
* ``1.2.3.4/24`` is a cidr (the address is not reported again; host bits kept as written);
  ``2001:db8::/32`` likewise, IPv6 compressed.
* Domains need a TLD that exists in the Public Suffix List, or the special-use ``example``,
  ``test``, ``onion``. Two-label names on TLDs that are also file extensions (``setup.py``,
  ``readme.md``, ``invoice.zip``) and code (``self.name``, ``logging.info(``) are dropped unless
  written defanged (``invoice[.]zip``). Labels with ``_`` are allowed only below the registrable name.
* Numbers: octets over 255, more than four dotted numbers, numbers after ``version``/``v``/``build``...
  are not IPs; all-digit "hashes" are rejected; hex must be exactly 32/40/64/128 long.
* ``CVE-2021-44228``, ``cve 2021 44228`` -> ``CVE-2021-44228``; ``AS13335``, ``AS 13335``,
  ``ASN13335``, ``asn 13335``, ``as13335`` -> ``AS13335`` (``as 2014`` in prose and bare numbers
  are not ASNs).
* ``sha256:<hex>``, ``md5=<hex>`` -> the hash. BTC: Base58Check (P2PKH/P2SH) and bech32/bech32m
  addresses with valid checksums; bech32 lower-cased.
* Trailing punctuation and unbalanced closing brackets are stripped (``(evil.com)``, ``"evil.com",``,
  ``evil.com.``); Markdown tables (``|``) and code blocks are plain separators.
"""

from bot.ioc.extract import classify, extract, extract_grouped
from bot.ioc.refang import defang, refang
from bot.ioc.types import IOCType, Observable
from bot.ioc.warninglists import DEFAULT_WARNINGLISTS, WarningLists

__all__ = [
    "DEFAULT_WARNINGLISTS",
    "IOCType",
    "Observable",
    "WarningLists",
    "classify",
    "defang",
    "extract",
    "extract_grouped",
    "refang",
]
