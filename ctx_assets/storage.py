"""The kept-connection instance storages, under the public name users write in their `dagster.yaml`.

```yaml
storage:
  custom:
    module: ctx_assets.storage
    class: KeptSqliteStorage          # or KeptPostgresStorage (the [postgres] extra)
    config: {base_dir: /srv/dagster}  # KeptPostgresStorage takes `storage: postgres`'s config
```
They are opt-in: embedded in your code location, ctx-assets runs on whatever storage your instance
has (Dagster's own SQLite or dagster-postgres). `ctx` writes KeptSqliteStorage into the home it owns.
"""

from typing import Any

from ctx_assets.dagster_compat.sqlite_storage import KeptSqliteStorage

__all__ = ["KeptSqliteStorage"]  # and KeptPostgresStorage, imported when named


def __getattr__(name: str) -> Any:
    if name == "KeptPostgresStorage":  # imports dagster-postgres: only when named
        from ctx_assets.dagster_compat.postgres_storage import KeptPostgresStorage

        return KeptPostgresStorage
    raise AttributeError(name)
