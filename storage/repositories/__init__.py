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

from storage.repositories.activity import SqlSightingRepository, SqlVoteRepository
from storage.repositories.api_keys import SqlApiKeyRepository, api_key_digest
from storage.repositories.audit import SqlAuditLog
from storage.repositories.channels import SqlChannelRepository
from storage.repositories.delivery import SqlOutbox, SqlPostedCards
from storage.repositories.exchange import SqlExchangeRepository
from storage.repositories.indicator_rows import visibility_clause
from storage.repositories.indicators import SqlIndicatorRepository
from storage.repositories.people import (
    SqlInviteRepository,
    SqlMemberRepository,
    SqlOrganizationRepository,
    invite_digest,
)

__all__ = [
    "SqlApiKeyRepository",
    "SqlAuditLog",
    "SqlChannelRepository",
    "SqlExchangeRepository",
    "SqlIndicatorRepository",
    "SqlInviteRepository",
    "SqlMemberRepository",
    "SqlOrganizationRepository",
    "SqlOutbox",
    "SqlPostedCards",
    "SqlSightingRepository",
    "SqlVoteRepository",
    "api_key_digest",
    "invite_digest",
    "visibility_clause",
]
