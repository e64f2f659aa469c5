"""Shared fixtures. Each fixture family lives in its own module, registered here."""

pytest_plugins: list[str] = ["browser_fixtures", "dask_fixtures", "pg_fixtures"]
