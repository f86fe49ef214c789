"""IOC extraction engine: find every indicator in a chat message, in one canonical form.

Platform-neutral (no Slack/Discord/SQLAlchemy import, no I/O at import time; the Public Suffix
List and the MISP warninglists are read lazily from their packages on first use).

Public interface: :class:`IOCType`, :class:`Observable`, :func:`extract`, :func:`extract_grouped`,
:func:`classify`, :func:`refang`, :func:`defang`, :class:`WarningLists`, :data:`DEFAULT_WARNINGLISTS`.

Decisions (free-text extraction)
--------------------------------
* Everything is refanged first: ``hxxp``/``hxxps``/``hxxxp``/``fxp``/``fxps``/``sfxp``/``ftx``/``h**p``/
  ``h00p``/``meow``, ``xxxx``/``xxxxs``/``xxxxx`` (http/https), ``[http]``/``(https)``, ``http__``, the
  separator broken or without its colon (``http//host``, ``http:/ /host``, ``http :// host``, ``http: //``,
  ``http:///host``), in brackets (``[:]//``, ``[:/]/``, ``:[//]``, ``[:][//]``) or JSON-escaped
  (``http:\\/\\/host``); ``[.]`` ``(.)`` ``{.}``
  ``[dot]`` ``(dot)`` ``[,]`` (any case, up to three blanks inside/around, repeated brackets:
  ``example  [  .  ]  com``), half and repeated brackets glued between two words (``1.2.3.]]]4``,
  ``10[[[.10``, ``111[.111.]111``, ``exampledot]com``, ``example[dotcom``, ``host.com[/path``),
  runs of backslashes before a dot (``10\\.10``), ``[:]``, ``[::]`` (IPv6: ``2001[:]db8[::]1``, ``fe80(::)1``,
  also in ``::ffff[:]192[.]0[.]2[.]128``), ``[://]``, ``[/]``, ``[@]`` ``[at]``
  ``(at)`` and ``user @ host``; a URL written percent-encoded where a URL may start
  (``"http%3A%2F%2Fexample%2Ecom"``) is decoded, and ``%2F`` before a name at a token start
  (``%2Fevil.com`` -> ``evil.com``), but nothing inside a URL is decoded (``?u=http%3A%2F%2F..``
  stays part of its URL); ``IPv6:`` before an address (``[IPv6:2001:db8::1]``) is a label;
  zero-width and bidi controls are deleted; full-width ASCII,
  ideographic and half-width dots are mapped to ASCII; Slack ``<url|label>``, ``<mailto:..|..>``,
  ``<@U..>``, ``&amp;``; Discord ``||spoilers||``, code spans and blocks, ``<url>`` (no embed);
  Markdown ``[label](url)`` (the label may hold brackets, ``[evil[.]com](..)``; the URL a defanged separator,
  one level of parentheses, ``<..>`` and a title), ``_x_``/``__x__`` emphasis (also before ``,.;:!?)``).
  A link whose label names the link itself or its host, however defanged (``<https://evil.com/a|evil[.]com>``,
  ``[evil[.]com](hxxp://evil[.]com/a)``), is one indicator: its URL.
* Ports and query punctuation in brackets, glued: ``evil[.]com[:8443]/x``, ``/a[?]x=1[&]y[=]2[#]top``.
* Word forms: ``[d0t]``, ``(punto)``/``(ponto)``/``(punkt)``, ``(arroba)`` in brackets count everywhere, like
  ``[dot]``/``(at)``. Without brackets (``evil dot com``, ``evil-dot-com``, ``www DOT evil DOT co DOT uk``,
  ``evil punto com``; ``user at evil dot com``, ``usuario arroba evil punto com``, ``admin AT evil.com``) they
  are read only where they make an address, because prose uses the same words: the name must end in a real
  public suffix (not ``example``/``test``); its first word must not be a function word (``the dot com``, ``a
  dot in``); a name of two words with a spaced ``dot`` must end in a classic gTLD (``com``, ``net``, ``org``,
  ``info``, ``xyz``...) or a country code that is not an English word (``red dot is``, ``blue dot app`` are
  prose); ``dot com`` before ``bubble``/``boom``/``era``... is the idiom; numbers only as a whole IPv4
  (``1 dot 2 dot 3 dot 4``, not ``10 dot 30`` or after ``version``). A spaced lower-case ``at`` makes an
  e-mail only before a domain written with word dots and after a word that can be a mailbox (``john at evil
  dot com``), not a verb, pronoun or common noun (``look at``, ``hosted at``, ``me at``, ``traffic at``: then
  only the domain is reported); ``arroba`` always, ``AT`` with the same word rule. Title-case ``Punto`` and
  ``Arroba`` without brackets are not read.
* Defanged e-mail local parts: ``first[.]last[@]company[.]com``, ``first(dot)last(at)company(dot)com``,
  ``first dot last at company dot com``; a local part that would start with a dot or hold two in a row is not
  an address, and nothing is reported from it.
* A URL is reported once, as a URL, and its host (domain or IP) is not reported again; an e-mail's domain
  is not reported again either. What a URL's path and query name is reported too: a hash on a sandbox
  page, a CVE in an advisory link, a domain or address in a path segment (``/domain/evil.com/``,
  ``/fetch/10.1.1.1/``), a redirect target (``?u=http://evil.example/``, http(s)/ftp schemes only). Host
  exclusion is positional: the same domain written elsewhere on its own is reported as a domain.
* URLs keep their scheme (lower-cased), user-info, port and path/query as written; the host is
  lower-cased, punycoded (``xn--``), IPv6 hosts compressed in brackets. Any scheme with a valid
  host is a URL (``tcp://``, ``udp://``, ``sftp://``, ``ftps://``, ``file://``, ``telnet://``).
  A URL ends at a blank, quote, ``<>|\\^{}`` or a comma, except a comma list of numbers inside a
  query (``?family=Lato:400,700``); a CSV field after a URL stays separate.
* Without a scheme, ``host/path`` (``evil.example/login.php``, ``1.2.3.4/x``) is a URL written as
  is (no scheme invented); ``host:port`` alone is the host (``1.2.3.4:443`` -> ipv4 ``1.2.3.4``).
* Slack's auto-link of a bare domain, ``<http://x.com|x.com>``, is the domain ``x.com``.
* ``1.2.3.4/24`` is a cidr (the address is not reported again; host bits kept as written);
  ``2001:db8::/32`` likewise, IPv6 compressed (RFC 5952; IPv4-mapped as ``::ffff:192.0.2.128``).
* ``user@127.0.0.1`` and ``user@[192.0.2.1]`` are not e-mail addresses: the address is an ipv4.
* Domains need a TLD that exists in the Public Suffix List, or the special-use ``example``,
  ``test``, ``onion`` and the IANA IDN test TLDs (``测试``, ``إختبار``...). ``.local``,
  ``.internal``, ``.lan``, ``.corp`` hosts are not reported: they name the victim's own machines,
  not indicators, and are not in the PSL.
* File-extension TLDs (``.zip``, ``.mov``, ``.py``, ``.md``, ``.rs``...; ``.zip``/``.mov`` are real
  TLDs abused by attackers): a bare two-label ``invoice.zip`` in prose is a file name and dropped;
  it is a domain when written defanged (``invoice[.]zip``), inside a URL (``http://invoice.zip/x``),
  with a path (``docs.rs/serde``), with three or more labels (``cdn.github-release.zip``), typed
  as an explicit argument (:func:`classify`), or where the context says domain: a pipe-table cell
  (``| evil.pl | 1.2.3.4 |``), a CSV/TSV field glued to its separator (``evil.pl,1.2.3.4``), a DNS record
  (``evil.sh. 300 IN A ..``, ``CNAME cdn.sh.``), after a ``domain:``/``host:``/``fqdn``/``"domain": "`` key.
  Common file names (``setup.py``, ``install.sh``, ``README.md``...) in a table or a CSV line stay files; a
  key or a DNS record still makes them domains.
* Code: two-label names whose first label is a code word (``self.name``, ``os.environ``) are dropped;
  a name glued to ``(`` is a call (``logging.info(``, ``socket.io(``) unless its TLD is never a method
  name (``evil.ru(x)``, ``evil.com(the C2)`` are domains); ``evil.com (the C2)`` and ``(evil.com)``
  are domains. Labels with ``_`` are allowed only below the registrable name (``_ldap._tcp.x.com``).
* Numbers: octets over 255, more than four dotted numbers, an address glued to ``.word``
  (``1.1.1.1.a``), numbers after ``version``/``v``/``build``... are not IPs (an ellipsis before an
  address is fine: ``blocked...1.2.3.4``); leading zeros are dropped (``01.1.1.1`` -> ``1.1.1.1``);
  all-digit "hashes" are rejected; hex must be exactly 32/40/64/128 long.
* ``CVE-2021-44228``, ``cve 2021 44228`` -> ``CVE-2021-44228``; ``AS13335``, ``AS 13335``,
  ``ASN13335``, ``asn 13335``, ``as13335`` -> ``AS13335`` (``as 2014`` in prose and bare numbers
  are not ASNs).
* ``sha256:<hex>``, ``md5=<hex>`` -> the hash. BTC: Base58Check (P2PKH/P2SH) and bech32/bech32m
  addresses with valid checksums; bech32 lower-cased.
* Indicators start and end at token boundaries: ``words68b3...c940words`` and ``<hash>hash`` are
  not hashes.
* Not supported (by design): base64- or hex-encoded URLs, decimal/hex IPs (``http://3628126748``),
  ``fooDOTcom`` and ``fooATbar.com`` glued without brackets or blanks, e-mail local parts with quotes or
  comments.
* Warninglists never walk up past a public suffix (PSL, private section included): a listed
  ``github.io`` / ``s3.amazonaws.com`` / ``workers.dev`` matches only itself, not ``evil.github.io``.
* Trailing punctuation and unbalanced closing brackets are stripped (``(evil.com)``, ``"evil.com",``,
  ``evil.com.``); Markdown tables (``|``) and code blocks are plain separators.

Speed (bench/extract.py): a message, and each line of a longer text, is read only when it has what an indicator
needs (a dot glued to what follows or a defanged one, ``::``, a 26-character run of letters and digits,
``cve``/``as``/``bc1``, a word dot, any non-ASCII character); a chat line's ``[HH:MM] <nick>`` is not such a
sign. Nothing the engine reads crosses a line break (the one look-back that does, "version" before an address,
is kept), so reading only those lines finds the same indicators. Texts of 64 KB or more find their lines with
one RE2 pass (``google-re2``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.ioc.types import IOCType, Observable
from bot.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from bot.ioc.extraction import classify, extract, extract_grouped
    from bot.ioc.refanging import defang, refang
    from bot.ioc.warninglists import DEFAULT_WARNINGLISTS, WarningLists

# The engine's modules are loaded when one of their names is first used: a command that never reads a value
# (`coalition-bot apikey list`, `export`) does not compile the engine's patterns (~15 ms at start-up). Their
# module names differ from the names they export, so `bot.ioc.extract` is always the function.
_HOME = {"classify": "bot.ioc.extraction", "extract": "bot.ioc.extraction", "extract_grouped": "bot.ioc.extraction",
         "defang": "bot.ioc.refanging", "refang": "bot.ioc.refanging",
         "DEFAULT_WARNINGLISTS": "bot.ioc.warninglists", "WarningLists": "bot.ioc.warninglists"}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _HOME)


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
