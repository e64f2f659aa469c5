"""Read parcels, buildings and tables from PostGIS, and write results back to a schema.

Land bureaus keep their parcels (宗地) in PostgreSQL/PostGIS. A source is a connection URL
(``postgresql://user:password@host:5432/db``) with either a table (``schema.table``) or an SQL
query.
Every frame read keeps the source position of each row like the file readers do: ``_file`` is the
URL without its password, ``_sheet`` the table (or ``sql``), ``_row`` the 1-based position of the
row in the result (ordered by the primary key where the table has one).

Needs the ``postgis`` extra: SQLAlchemy, GeoAlchemy2 and psycopg 3.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

import geopandas as gpd
import pandas as pd

from ..crs import check_crs
from ..errors import InputError
from .parquet import result_tables, storable

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Engine

    from ..pipeline import Result

__all__ = [
    "is_postgres_url",
    "read_postgis_layer",
    "read_postgis_table",
    "redact_url",
    "write_result_postgis",
]

_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://", "postgis://")


def is_postgres_url(value: object) -> bool:
    """Return whether ``value`` is a PostgreSQL connection URL (not a file path).

    Examples
    --------
    >>> is_postgres_url("postgresql://gis@db.example/land"), is_postgres_url("parcels.gpkg")
    (True, False)
    """
    return isinstance(value, str) and value.lower().startswith(_SCHEMES)


def _url(url: str) -> URL:
    try:
        from sqlalchemy.engine import make_url
    except ImportError as err:  # pragma: no cover - depends on the extra
        msg = "reading PostGIS needs the postgis extra: pip install 'landeff[postgis]'."
        raise InputError(msg) from err
    if not is_postgres_url(url):
        msg = f"{url!r} is not a PostgreSQL URL; write it as postgresql://user:password@host/db."
        raise InputError(msg)
    try:
        parsed = make_url(url)
    except Exception as err:
        msg = f"{redact_url(url)}: not a valid connection URL ({err})."
        raise InputError(msg) from err
    return parsed.set(drivername="postgresql+psycopg")


def redact_url(url: str) -> str:
    """Return the URL without its password (for messages and ``_file``).

    Examples
    --------
    >>> redact_url("postgresql://gis:s3cret@db.example:5432/land")
    'postgresql://gis@db.example:5432/land'
    """
    try:
        from sqlalchemy.engine import URL, make_url

        parsed = make_url(url)
    except Exception:
        head, sep, tail = url.partition("@")
        if not sep:
            return url
        scheme, _, user = head.partition("://")
        return f"{scheme}://{user.split(':', 1)[0]}@{tail}"
    bare = URL.create(
        drivername=url.split("://", 1)[0], username=parsed.username, host=parsed.host,
        port=parsed.port, database=parsed.database, query=parsed.query,
    )
    return bare.render_as_string(hide_password=False)


def _engine(url: str) -> Engine:
    from sqlalchemy import create_engine

    return create_engine(_url(url))


def _split_table(table: str) -> tuple[str | None, str]:
    schema, _, name = table.rpartition(".")
    return (schema or None), name


def _query(engine: Engine, url: str, table: str | None, sql: str | None) -> tuple[str, str]:
    """Return the SQL to run and the ``_sheet`` label, checking that the table exists."""
    if (table is None) == (sql is None):
        msg = f"{redact_url(url)}: give either a table (--*-table) or a query (--*-sql), not both."
        raise InputError(msg)
    if sql is not None:
        return sql.strip().rstrip(";"), "sql"
    from sqlalchemy import inspect

    assert table is not None
    schema, name = _split_table(table)
    insp = inspect(engine)
    if not insp.has_table(name, schema=schema):
        known = insp.get_table_names(schema=schema)
        msg = (
            f"{redact_url(url)}: no table {table!r}"
            f"{f' in schema {schema!r}' if schema else ''}; tables there: "
            f"{', '.join(sorted(known)[:20]) or '(none)'}. Check --*-table (schema.table)."
        )
        raise InputError(msg)
    prep = engine.dialect.identifier_preparer
    qualified = (prep.quote_schema(schema) + "." if schema else "") + prep.quote(name)
    pk = insp.get_pk_constraint(name, schema=schema).get("constrained_columns") or []
    order = f" ORDER BY {', '.join(prep.quote(c) for c in pk)}" if pk else ""
    return f"SELECT * FROM {qualified}{order}", table


def _geometry_columns(engine: Engine, query: str) -> list[str]:
    """Return the names of the geometry columns the query yields, in order."""
    from sqlalchemy import text

    with engine.connect() as conn:
        oid = conn.execute(text("SELECT oid FROM pg_type WHERE typname = 'geometry'")).scalar()
        if oid is None:
            return []
        cur = conn.exec_driver_sql(f"SELECT * FROM ({query}) AS landeff_q LIMIT 0")
        description = cur.cursor.description if cur.cursor is not None else []
        return [str(d[0]) for d in description or [] if d[1] == oid]


def _positions(frame: pd.DataFrame, url: str, sheet: str) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame["_file"] = redact_url(url)
    frame["_sheet"] = sheet
    frame["_row"] = pd.RangeIndex(1, len(frame) + 1)
    return frame


@contextmanager
def _connected(url: str, doing: str) -> Iterator[Engine]:
    """Yield an engine for ``url``, disposed at the end.

    Any database failure becomes an :class:`InputError` saying what could not be done (``doing``)
    and where (the URL without its password).
    """
    engine = _engine(url)
    try:
        yield engine
    except InputError:
        raise
    except Exception as err:
        msg = f"{redact_url(url)}: cannot {doing} ({err})."
        raise InputError(msg) from err
    finally:
        engine.dispose()


def read_postgis_layer(
    url: str,
    *,
    table: str | None = None,
    sql: str | None = None,
    geometry_column: str | None = None,
    input_crs: object = None,
) -> gpd.GeoDataFrame:
    """Read a PostGIS table or query as a GeoDataFrame with row positions.

    Parameters
    ----------
    url : str
        ``postgresql://user:password@host:port/database``.
    table : str, optional
        ``table`` or ``schema.table``.
    sql : str, optional
        A ``SELECT`` query (instead of ``table``).
    geometry_column : str, optional
        The geometry column, when the result has several; default the first one.
    input_crs : optional
        CRS for geometry stored without an SRID (SRID 0).

    Returns
    -------
    GeoDataFrame
        With ``_file`` (URL without password), ``_sheet`` (the table, or ``sql``) and ``_row``.
    """
    with _connected(url, f"read {table or 'the query'}") as engine:
        query, sheet = _query(engine, url, table, sql)
        geoms = _geometry_columns(engine, query)
        where = f"{redact_url(url)} {sheet if table else 'query'}"
        if not geoms:
            msg = (
                f"{where}: the result has no geometry column. Select the PostGIS geometry "
                "(e.g. SELECT *, geom FROM ...) or read it as a table."
            )
            raise InputError(msg)
        geom = geometry_column or geoms[0]
        if geom not in geoms:
            msg = f"{where}: no geometry column {geom!r}; geometry columns: {', '.join(geoms)}."
            raise InputError(msg)
        with engine.connect() as conn:
            gdf = gpd.read_postgis(query, conn, geom_col=geom)
    if gdf.crs is None:
        crs = check_crs(None, file=f"{redact_url(url)} {sheet}", input_crs=input_crs)
        gdf = gdf.set_crs(crs)
    for extra in geoms:
        if extra != geom and extra in gdf:
            gdf[extra] = gpd.GeoSeries.from_wkb(gdf[extra]).to_wkt()
    return _positions(gdf, url, sheet)


def read_postgis_table(url: str, *, table: str | None = None, sql: str | None = None
                       ) -> pd.DataFrame:
    """Read a PostgreSQL table or query (enterprises, contracts) as a raw frame with positions.

    Columns come as the database types them; :mod:`landeff.validate` parses them like CSV cells.
    Geometry columns, if any, are dropped. ``_file``, ``_sheet`` and ``_row`` as in
    :func:`read_postgis_layer`.
    """
    with _connected(url, f"read {table or 'the query'}") as engine:
        query, sheet = _query(engine, url, table, sql)
        geoms = _geometry_columns(engine, query)
        with engine.connect() as conn:
            frame = pd.read_sql_query(query, conn)
    frame = frame.drop(columns=[g for g in geoms if g in frame])
    return _positions(frame, url, sheet)


def write_result_postgis(
    result: Result,
    url: str,
    *,
    schema: str = "landeff",
    public: bool = False,
    if_exists: Literal["replace", "fail"] = "replace",
) -> list[str]:
    """Write a result's tables to a PostGIS schema, in one transaction.

    Tables: ``parcels`` and ``remainders`` (with geometry, in the input CRS), ``enterprises``,
    ``findings``, ``rejected``, ``warnings`` and a one-row ``summary`` (the summary as JSON).
    List cells are joined with ``;``. With ``public=True`` the tables hold what the public file
    outputs hold (:func:`landeff.outputs.public_columns`: no enterprise figure nor anything derived
    from one; confidential finding values and their evidence emptied), and the rejected rows and
    warnings, which quote input cells, are left out.

    Parameters
    ----------
    result : Result
        From :func:`landeff.evaluate`.
    url : str
        ``postgresql://user:password@host:port/database``.
    schema : str
        Target schema, created if missing.
    public : bool
        Write the public edition only.
    if_exists : str
        ``replace`` (default) or ``fail`` when a table is already there.

    Returns
    -------
    list of str
        The tables written, as ``schema.table``.
    """
    from sqlalchemy import text

    if if_exists not in ("replace", "fail"):
        msg = f"if_exists={if_exists!r}: use 'replace' or 'fail'."
        raise InputError(msg)
    tables = result_tables(result, public=public)
    written: list[str] = []
    with _connected(url, f"write the results to schema {schema!r}") as engine, engine.begin() as conn:
        quoted = engine.dialect.identifier_preparer.quote_schema(schema)
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
        for name, frame in tables.items():
            safe = storable(frame)
            if isinstance(safe, gpd.GeoDataFrame) and safe.geometry.name in safe:
                safe.to_postgis(name, conn, schema=schema, if_exists=if_exists, index=False)
            else:
                pd.DataFrame(safe).to_sql(name, conn, schema=schema, if_exists=if_exists,
                                          index=False)
            written.append(f"{schema}.{name}")
    return written


def read_counts(url: str, tables: Mapping[str, str] | list[str]) -> dict[str, int]:
    """Return ``{schema.table: row count}`` (a check after :func:`write_result_postgis`)."""
    from sqlalchemy import text

    engine = _engine(url)
    prep = engine.dialect.identifier_preparer
    out: dict[str, int] = {}
    try:
        with engine.connect() as conn:
            for qualified in tables:
                schema, name = _split_table(qualified)
                q = (prep.quote_schema(schema) + "." if schema else "") + prep.quote(name)
                out[qualified] = int(conn.execute(text(f"SELECT count(*) FROM {q}")).scalar_one())
    finally:
        engine.dispose()
    return out
