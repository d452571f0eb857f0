"""The SQL store: tables, engine and migrations, the call writer, the queries."""

from monitor.store.engine import Store, default_db_url, open_store

__all__ = ["Store", "default_db_url", "open_store"]
