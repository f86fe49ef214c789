"""The common store: SQLAlchemy 2 Core tables, repositories, unit of work and Alembic migrations (async).

    from storage import create_store, upgrade

    await upgrade(url)                 # schema from the migrations, idempotent
    store = create_store(url)          # sqlite:///coalition.db or postgresql://user@host/db
    uow_factory = store.unit_of_work   # bot.ports.UnitOfWorkFactory
    ...
    await store.close()

Importing one module of the package does not import the others (`db current` needs no tables): the names below are
looked up on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from storage.migrate import current, downgrade, upgrade
    from storage.uow import SqlUnitOfWork, Store, create_store

__all__ = ["SqlUnitOfWork", "Store", "create_store", "current", "downgrade", "upgrade"]
_HOME = {"current": "storage.migrate", "downgrade": "storage.migrate", "upgrade": "storage.migrate",
         "SqlUnitOfWork": "storage.uow", "Store": "storage.uow", "create_store": "storage.uow"}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _HOME)
