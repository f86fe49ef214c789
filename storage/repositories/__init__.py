"""The Protocols of ``bot.ports`` over one ``AsyncSession``: one module per aggregate.

* ``people``: organizations, members and their identities, invite codes
* ``indicators``: indicators and their search; ``indicator_rows``: how an indicator is read and the visibility
  filter as SQL; ``pivots``: the SQL of the lookups' related sections and of ``within:``/``domain:``
* ``activity``: votes and sightings
* ``channels``, ``audit``: channel settings, the audit log
* ``delivery``: the outbox and the posted cards
* ``exchange``, ``api_keys``: STIX/TAXII export, feed and bulk import; API keys

The rules every module keeps are in ``storage.repositories.base``.
"""

from bot.lazy_exports import lazy_exports

# Each name is looked up in its module on first use (PEP 562): importing one repository (a unit of work makes each
# on first use, storage.uow) loads no other.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "activity": ("SqlSightingRepository", "SqlVoteRepository"),
    "api_keys": ("SqlApiKeyRepository", "api_key_digest"),
    "audit": ("SqlAuditLog",),
    "channels": ("SqlChannelRepository",),
    "delivery": ("SqlOutbox", "SqlPostedCards"),
    "exchange": ("SqlExchangeRepository",),
    "indicator_rows": ("visibility_clause",),
    "indicators": ("SqlIndicatorRepository",),
    "people": ("SqlInviteRepository", "SqlMemberRepository", "SqlOrganizationRepository", "invite_digest"),
}
_HOME = {name: f"{__name__}.{module}" for module, names in _EXPORTS.items() for name in names}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _HOME)
