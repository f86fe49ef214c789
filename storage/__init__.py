"""The common store: SQLAlchemy 2 async models, repositories, unit of work and Alembic migrations.

    from storage import create_store, upgrade

    await upgrade(url)                 # schema from the migrations, idempotent
    store = create_store(url)          # sqlite:///coalition.db or postgresql://user@host/db
    uow_factory = store.unit_of_work   # bot.ports.UnitOfWorkFactory
    ...
    await store.close()
"""

from storage.migrate import current, downgrade, upgrade
from storage.uow import SqlUnitOfWork, Store, create_store

__all__ = ["SqlUnitOfWork", "Store", "create_store", "current", "downgrade", "upgrade"]
