"""The pipeline: read → validate → project → join → measure → flag, and the :class:`Result`."""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import flags as rules
from . import grading
from .crs import CGCS2000, M2_PER_MU, area_zones, planar_area_m2
from .errors import Diagnostics, InputError
from .io.tables import read_table
from .io.vector import read_layer
from .join import attribute_land, clip_buildings, footprint_by_parcel, link_enterprises
from .metrics import FIGURES, measure_enterprises, measure_parcels, per_mu, spread_to_parcels
from .parallel import in_background
from .policy import Policy, load_policy
from .schema import CONTRACT_FIELDS
from .validate import (
    prepare_buildings,
    prepare_contracts,
    prepare_enterprises,
    prepare_parcels,
    unique_parcel_ids,
)

Source = str | os.PathLike[str] | pd.DataFrame | None
STAGES = ("read", "validate", "project", "join", "measure", "flag", "write")
#: Recorded area may differ from the measured one by this fraction before a warning.
RECORDED_AREA_TOLERANCE = 0.01


@dataclass
class Result:
    """Everything one evaluation produced (see docs/architecture.md for the columns)."""

    parcels: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    enterprises: pd.DataFrame
    enterprise_years: pd.DataFrame
    links: pd.DataFrame
    findings: pd.DataFrame
    remainders: gpd.GeoDataFrame
    diagnostics: Diagnostics
    summary: dict[str, Any]
    as_of: dt.date
    year: int | None
    policy: Policy
    timings: dict[str, float] = field(default_factory=dict)
    name: str = ""

    @property
    def warnings(self) -> pd.DataFrame:
        """Recorded warnings: ``code, message, file, sheet, row, column, value``."""
        return self.diagnostics.warnings

    @property
    def rejected(self) -> pd.DataFrame:
        """Input rows not used: ``file, sheet, row, column, value, reason_code, message``."""
        return self.diagnostics.rejected

    def to_map(self, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Any:
        """Return the interactive map (``folium.Map``), saved to ``path`` when given.

        Keyword arguments go to :func:`landeff.outputs.map.make_map` (``public``, ``offline``,
        ``basemap``, ``color_by``, ``lang`` ...).
        """
        from .outputs.map import make_map, save_map

        kwargs.setdefault("title", self.name or None)
        m = make_map(
            self.parcels,
            buildings=self.buildings,
            remainders=self.remainders,
            findings=self.findings,
            enterprises=self.enterprises,
            links=self.links,
            **kwargs,
        )
        if path is not None:
            save_map(m, path)
        return m

    def save(
        self,
        directory: str | os.PathLike[str],
        *,
        public: bool = False,
        lang: str = "zh",
        with_map: bool = True,
    ) -> Path:
        """Write the results to ``directory`` (see docs/outputs.md); returns the directory."""
        from .outputs.save import save_result

        start = time.perf_counter()
        out = save_result(self, Path(directory), public=public, lang=lang, with_map=with_map)
        self.timings["write"] = time.perf_counter() - start
        return out


@contextmanager
def _timed(
    timings: dict[str, float], stage: str, progress: Callable[[str], None] | None
) -> Iterator[None]:
    if progress is not None:
        progress(stage)
    # The objects alive before a stage (inputs, earlier stages' frames) are long-lived: moving them
    # out of the collector's reach saves repeated full scans of millions of objects at scale.
    gc.freeze()
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start
        gc.unfreeze()


def _as_date(value: Any, *, what: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as err:
        msg = f"{what}: {value!r} is not a date; write it as YYYY-MM-DD."
        raise InputError(msg) from err


def choose_year(years: pd.Series, as_of: dt.date) -> int | None:
    """Return the latest year whose 31 December is not after ``as_of`` (else the latest ≤ as_of's)."""
    ys = sorted({int(y) for y in years.dropna()})
    if not ys:
        return None
    done = [y for y in ys if dt.date(y, 12, 31) <= as_of]
    if done:
        return done[-1]
    started = [y for y in ys if y <= as_of.year]
    return started[-1] if started else ys[-1]


def evaluate(
    parcels: Source | gpd.GeoDataFrame = None,
    *,
    buildings: Source | gpd.GeoDataFrame = None,
    enterprises: Source = None,
    contracts: Source = None,
    year: int | None = None,
    as_of: dt.date | str | None = None,
    policy: Any = None,
    input_crs: Any = None,
    area_crs: Any = None,
    parcels_layer: str | None = None,
    buildings_layer: str | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    strict: bool = False,
    name: str = "",
    progress: Callable[[str], None] | None = None,
    parcels_table: str | None = None,
    parcels_sql: str | None = None,
    buildings_table: str | None = None,
    buildings_sql: str | None = None,
    enterprises_table: str | None = None,
    enterprises_sql: str | None = None,
    contracts_table: str | None = None,
    contracts_sql: str | None = None,
    engine: str = "single",
    scheduler: Any = None,
    partition_by: str | None = None,
) -> Result:
    """Evaluate a park: measure every parcel and enterprise, grade, and flag.

    Parameters
    ----------
    parcels : path or GeoDataFrame, optional
        Parcel (宗地) layer. May be omitted when ``contracts`` is given: the contracts are then
        checked as a ledger without geometry.
    buildings : path or GeoDataFrame, optional
        Building footprints with floors.
    enterprises : path or DataFrame, optional
        Enterprise table (CSV or XLSX; Chinese headers accepted, see docs/schema.md).
    contracts : path or DataFrame, optional
        Land contracts keyed by ``parcel_id`` or ``supervision_no``.
    year : int, optional
        Year of the enterprise figures; default the latest year not after ``as_of``.
    as_of : date or str
        Evaluation date (inclusive). Required: results must not change with the calendar.
    policy : str, path or Policy, optional
        Preset name, TOML file or Policy; default ``jiangsu-huaian-2024``.
    input_crs : optional
        CRS for layers that have none (EPSG code, WKT or PROJ string).
    area_crs : optional
        Projected CRS to measure areas in, instead of each parcel's CGCS2000 GK zone.
    strict : bool
        Raise :class:`~landeff.errors.InputError` at the end if anything was warned or rejected.
    parcels_table, parcels_sql, buildings_table, ... : str, optional
        Where an input is a ``postgresql://`` URL: the table (``schema.table``) or a ``SELECT``.
    engine : {"single", "dask"}
        ``dask`` runs the same pipeline per park (or county, or grid cell) on a Dask cluster
        (:func:`landeff.engine_dask.evaluate_dask`) and gives the same result.
    scheduler : str, optional
        Dask scheduler address; default a LocalCluster on this machine.
    partition_by : str, optional
        ``park_id``, ``county_code`` or ``grid`` for the Dask engine.

    Returns
    -------
    Result

    Examples
    --------
    >>> import landeff
    >>> r = landeff.evaluate(**landeff.read_demo())
    >>> r.year, len(r.parcels) == r.summary["n_parcels"]
    (2024, True)
    """
    if as_of is None:
        msg = "as_of is required (the evaluation date, e.g. as_of='2025-06-30')."
        raise InputError(msg)
    as_of_d = _as_date(as_of, what="as_of")
    pol = load_policy(policy)
    diag = Diagnostics(strict=strict)
    timings: dict[str, float] = {}
    if engine not in ("single", "dask"):
        msg = f"engine {engine!r}: use 'single' (this machine) or 'dask' (a Dask cluster)."
        raise InputError(msg)

    with _timed(timings, "read", progress):
        parcels = _from_database(parcels, parcels_table, parcels_sql, input_crs, layer=True)
        buildings = _from_database(buildings, buildings_table, buildings_sql, input_crs, layer=True)
        enterprises = _from_database(enterprises, enterprises_table, enterprises_sql, None)
        contracts = _from_database(contracts, contracts_table, contracts_sql, None)
    if engine == "dask":
        from .engine_dask import evaluate_dask

        return evaluate_dask(
            parcels, buildings=buildings, enterprises=enterprises, contracts=contracts,
            scheduler=scheduler, partition_by=partition_by, year=year, as_of=as_of_d,
            policy=pol, input_crs=input_crs, area_crs=area_crs, parcels_layer=parcels_layer,
            buildings_layer=buildings_layer, sheet=sheet, encoding=encoding, strict=strict,
            name=name, progress=progress,
        )

    with _timed(timings, "read", progress):
        # the tables are read in the background while the layers are read here (both mostly
        # release the GIL: pyogrio/arrow and pandas' C parser)
        tables = in_background(_read_tables, enterprises, contracts, sheet=sheet, encoding=encoding)
        raw_parcels = (
            read_layer(parcels, layer=parcels_layer, input_crs=input_crs, encoding=encoding)
            if parcels is not None
            else None
        )
        raw_buildings = (
            read_layer(buildings, layer=buildings_layer, input_crs=input_crs, encoding=encoding)
            if buildings is not None
            else None
        )
        raw_ent, raw_con = tables.result()
    if raw_parcels is None and raw_con is None:
        msg = "nothing to evaluate: give parcels (a layer) or contracts (a ledger)."
        raise InputError(msg)

    with _timed(timings, "validate", progress):
        # enterprises are prepared in the background, recording into their own Diagnostics,
        # appended below where a sequential run records them: the warnings keep their order
        ent_diag = Diagnostics()
        ent_job = (
            in_background(prepare_enterprises, raw_ent, default_year=year, diagnostics=ent_diag)
            if raw_ent is not None
            else None
        )
        con = prepare_contracts(raw_con, diagnostics=diag) if raw_con is not None else None
        if raw_parcels is not None:
            par = prepare_parcels(raw_parcels, diagnostics=diag)
        else:
            assert con is not None
            par = _ledger_parcels(con, diagnostics=diag)
        ambiguous = set(par.attrs.get("ambiguous_ids", set()))
        # the validators' notes in attrs (the overlap report, units ...) are done with; pandas
        # deep-copies attrs into every frame and column taken, which costs at every later step
        par.attrs = {}
        if con is not None and raw_parcels is not None:
            par = merge_contracts(par, con, diagnostics=diag)
        bld = (
            prepare_buildings(raw_buildings, diagnostics=diag)
            if raw_buildings is not None
            else None
        )
        ent = ent_job.result() if ent_job is not None else None
        diag.extend(ent_diag)
        for frame in (par, bld, ent, con):
            if frame is not None:
                frame.attrs = {}

    with _timed(timings, "project", progress):
        par = par.copy()
        if _any_geometry(par):
            par["area_epsg"] = area_zones(par.geometry, area_crs)
            par["area_m2"] = planar_area_m2(par.geometry, par["area_epsg"]).to_numpy()
        else:
            par["area_epsg"] = -1
            par["area_m2"] = par.get("recorded_area_m2", pd.Series(np.nan, index=par.index))
        par["area_mu"] = par["area_m2"] / M2_PER_MU
        _check_recorded_area(par, diag)

    with _timed(timings, "join", progress):
        # enterprises are linked by id, code and name in the background while buildings are clipped
        link_diag = Diagnostics()
        link_job = (
            in_background(
                link_enterprises,
                ent,
                par[[c for c in ("parcel_id", "holder_uscc", "holder_name") if c in par]],
                diagnostics=link_diag,
                ambiguous_ids=ambiguous,
            )
            if ent is not None
            else None
        )
        if bld is not None and len(bld) and _any_geometry(par):
            # prepare_buildings (validate.repair_geometry) left every polygon valid
            pieces = clip_buildings(par, bld, diagnostics=diag, assume_valid=True)
        else:
            pieces = _empty_pieces(par.crs)
        footprint = footprint_by_parcel(pieces, par)
        building_measures = measure_parcels(par, pieces, footprint)
        par = par.set_index("parcel_id", drop=False)
        par.index.name = "parcel_id"
        par = par.join(building_measures)
        if link_job is not None:
            links_all = link_job.result()
            diag.extend(link_diag)
            links_all = attribute_land(
                links_all, ent, par, method=pol.tenant_attribution, diagnostics=diag
            )
        else:
            links_all = pd.DataFrame(
                columns=[
                    "row",
                    "parcel_id",
                    "how",
                    "uscc",
                    "key",
                    "year",
                    "role",
                    "land_m2",
                    "share",
                ]
            )

    with _timed(timings, "measure", progress):
        chosen = year
        if ent is not None and len(ent):
            chosen = year if year is not None else choose_year(ent["year"], as_of_d)
            if chosen not in set(pd.unique(ent["year"])):  # the distinct years, as a set
                diag.warn(
                    "year_missing",
                    f"the enterprise table has no rows for year {chosen}; "
                    f"years present: {sorted(set(ent['year']))}",
                )
        ent_years = measure_enterprises(ent, links_all) if ent is not None else _empty_enterprises()
        linked = ent_years.index.isin(pd.unique(links_all["row"].to_numpy()))
        if not linked.all():  # (a boolean take of every row would copy the frame for nothing)
            ent_years = ent_years.loc[linked]
        # each link's parcel position in par (indexed by its unique parcel_id), found once
        parcel_at = par.index.get_indexer(links_all["parcel_id"])
        ent_years = _fill_park(ent_years, links_all, par, parcel_at)
        # a boolean take makes new columns already (and copy-on-write keeps frames apart)
        current = ent_years[ent_years["year"] == chosen] if chosen is not None else ent_years
        of_year = links_all["year"] == chosen if chosen is not None else None
        links = links_all[of_year] if of_year is not None else links_all
        spread = (
            spread_to_parcels(
                current,  # the rows of ent_years for the year, with their labels
                links,
                par.index,
                stopped_kwh=_threshold(pol, "stopped_kwh", 10000.0),
                parcel_at=parcel_at[of_year.to_numpy()] if of_year is not None else parcel_at,
            )
            if len(current)
            else _empty_spread(par.index)
        )
        par = par.join(spread)
        land = (
            par["area_mu"]
            if pol.area_source == "measured"
            else (par.get("recorded_area_m2", par["area_m2"]) / M2_PER_MU)
        )
        par = par.join(per_mu(par, land))
        links_out = links.merge(
            current[["uscc", "name"]].reset_index().rename(columns={"index": "row"}),
            on=["row"],
            how="left",
            suffixes=("", "_ent"),
        )

    with _timed(timings, "flag", progress):
        # the undeveloped remainders (GEOS buffers and differences, the costliest geometry) are
        # cut in the background while the enterprises are graded and the other rules run. (Started
        # earlier, in the join, they slow the measure stage by more than they save: the contention
        # is for the GIL, which both hold for much of their work.)
        remainders = in_background(
            rules.remainder_pieces, par.copy(deep=False), pieces, pol.thresholds
        )
        graded = grading.grade(
            current.reset_index(drop=True),
            ent_years.reset_index(drop=True),
            policy=pol,
            as_of=as_of_d,
            year=chosen if chosen is not None else as_of_d.year,
            diagnostics=diag,
        )
        par = _parcel_grades(par, graded, links_out)
        found = rules.find(
            par,
            graded,
            pieces,
            as_of=as_of_d,
            year=chosen,
            thresholds=pol.thresholds,
            far_minimum=pol.far_minimum,
            investment_includes_land_price=pol.investment_includes_land_price,
            enterprise_years=ent_years.reset_index(drop=True),
            diagnostics=diag,
            remainders=remainders,
        )
        per_parcel = found.per_parcel.reindex(par.index)
        for col in per_parcel.columns:
            par[col] = per_parcel[col]

    par = gpd.GeoDataFrame(par, geometry=par.geometry.name, crs=par.crs)
    summary = summarise(
        par,
        graded,
        found.findings,
        diag,
        as_of=as_of_d,
        year=chosen,
        policy=pol,
        name=name,
        pieces=pieces,
        enterprise_years=ent_years,
    )
    diag.raise_if_warnings()
    return Result(
        parcels=par,
        buildings=pieces,
        enterprises=graded,
        enterprise_years=ent_years.reset_index(drop=True),
        links=links_out.drop(columns=["row"], errors="ignore"),
        findings=found.findings,
        remainders=found.remainders,
        diagnostics=diag,
        summary=summary,
        as_of=as_of_d,
        year=chosen,
        policy=pol,
        timings=timings,
        name=name,
    )


def _any_geometry(frame: gpd.GeoDataFrame) -> bool:
    """Whether any row has a geometry (empty ones count: they are kept and warned about)."""
    return bool((~shapely.is_missing(np.asarray(frame.geometry.values, dtype=object))).any())


def _read_tables(
    enterprises: Source, contracts: Source, *, sheet: str | int | None, encoding: str | None
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Read the enterprise and contract tables (either may be None)."""
    return (
        read_table(enterprises, kind="enterprises", sheet=sheet, encoding=encoding)
        if enterprises is not None
        else None,
        read_table(contracts, kind="contracts", sheet=sheet, encoding=encoding)
        if contracts is not None
        else None,
    )


def _from_database(
    source: Any, table: str | None, sql: str | None, input_crs: Any, *, layer: bool = False
) -> Any:
    """Read a ``postgresql://`` source into a frame; pass anything else through."""
    from .io.postgis import is_postgres_url

    if not is_postgres_url(source):
        if table is not None or sql is not None:
            msg = f"a table or SQL was given for {source!r}, which is not a postgresql:// URL."
            raise InputError(msg)
        return source
    from .io.postgis import read_postgis_layer, read_postgis_table

    if layer:
        return read_postgis_layer(source, table=table, sql=sql, input_crs=input_crs)
    return read_postgis_table(source, table=table, sql=sql)


def _fill_park(
    frame: pd.DataFrame,
    links: pd.DataFrame,
    par: pd.DataFrame,
    parcel_at: np.ndarray | None = None,
) -> pd.DataFrame:
    """Give enterprise rows the ``park_id`` (and ``county_code``) of their first parcel.

    Grading pools and benchmarks are per park; an enterprise table rarely names the park.
    ``parcel_at``, if given, is ``par.index.get_indexer(links["parcel_id"])``.
    """
    first = ~links["row"].duplicated().to_numpy()  # the first link of each row
    if parcel_at is None:  # par is indexed by its unique parcel_id
        parcel_at = par.index.get_indexer(links["parcel_id"])
    at = parcel_at[first]
    for col in ("park_id", "county_code"):
        if col not in par or (col in frame and frame[col].notna().all()):
            continue  # nothing to give, or nothing to fill (fillna would return the column as is)
        from_parcel = (
            pd.Series(par[col].to_numpy()[at], index=links["row"].to_numpy()[first])
            .where(at >= 0)
            .reindex(frame.index)
        )
        frame[col] = frame[col].fillna(from_parcel) if col in frame else from_parcel
    return frame


def _threshold(policy: Policy, key: str, default: float) -> float:
    t = policy.thresholds.get(key)
    return float(t.value) if t is not None and t.value is not None else default


def _ledger_parcels(contracts: pd.DataFrame, *, diagnostics: Diagnostics) -> gpd.GeoDataFrame:
    """Contracts without geometry, as parcels: one per contract row (ledger mode).

    The id is the contract's 宗地编号, else its 电子监管号; missing and repeated ids are handled
    (and warned about) as for a parcel layer.
    """
    frame = contracts.copy()
    if "parcel_id" not in frame:
        frame["parcel_id"] = frame["supervision_no"]
    elif "supervision_no" in frame:
        frame["parcel_id"] = frame["parcel_id"].fillna(frame["supervision_no"])
    ambiguous = unique_parcel_ids(frame, diagnostics=diagnostics, prefix="C")
    out = gpd.GeoDataFrame(frame, geometry=[None] * len(frame), crs=CGCS2000)
    out.attrs["ambiguous_ids"] = ambiguous
    return out


def merge_contracts(
    parcels: gpd.GeoDataFrame, contracts: pd.DataFrame, *, diagnostics: Diagnostics
) -> gpd.GeoDataFrame:
    """Merge contract fields onto parcels by ``parcel_id``, else ``supervision_no``.

    Contract fields from the table replace those of the layer; descriptive fields (holder, use) only
    fill gaps. Contract rows matching no parcel, or a parcel that already has one, are rejected.
    """
    con = contracts.copy()
    par = parcels.copy()
    key_pid = con["parcel_id"] if "parcel_id" in con else pd.Series(None, index=con.index)
    pid_by_sup = (
        par.dropna(subset=["supervision_no"])
        .drop_duplicates("supervision_no")
        .set_index("supervision_no")["parcel_id"]
        if "supervision_no" in par
        else pd.Series(dtype=object)
    )
    via_sup = con["supervision_no"].map(pid_by_sup) if "supervision_no" in con else None
    target = key_pid.where(key_pid.isin(set(par["parcel_id"])))
    if via_sup is not None:
        target = target.fillna(via_sup)
    con["_target"] = target
    nomatch = con["_target"].isna()
    if nomatch.any():
        diagnostics.reject(
            con.loc[nomatch],
            "no_parcel",
            "contract matches no parcel by 宗地编号 or 电子监管号",
            column="parcel_id" if "parcel_id" in con else "supervision_no",
        )
    con = con.loc[~nomatch]
    dup = con["_target"].duplicated(keep="first")
    if dup.any():
        diagnostics.reject(
            con.loc[dup],
            "duplicate_contract",
            "a second contract for a parcel that already has one; the first is used",
            column="parcel_id" if "parcel_id" in con else "supervision_no",
        )
        con = con.loc[~dup]
    con = con.set_index("_target")
    par = par.set_index("parcel_id", drop=False)
    fields = [c for c in con.columns if c not in {"parcel_id", "_file", "_sheet", "_row"}]
    aligned = con[fields].reindex(par.index)  # one take for every field
    for col in fields:
        values = aligned[col]
        if col in CONTRACT_FIELDS or col not in par:
            par[col] = values.combine_first(par[col]) if col in par else values
        else:
            par[col] = par[col].combine_first(values)
    return par.reset_index(drop=True)


def _check_recorded_area(par: pd.DataFrame, diag: Diagnostics) -> None:
    if "recorded_area_m2" not in par or par["area_epsg"].eq(-1).all():
        return
    rec = par["recorded_area_m2"]
    rel = (rec - par["area_m2"]).abs() / par["area_m2"].where(par["area_m2"] > 0)
    off = rel > RECORDED_AREA_TOLERANCE
    if not off.any():
        return
    bad = par.loc[off]
    messages = (
        "parcel " + bad["parcel_id"].astype(str) + ": recorded area "
        + bad["recorded_area_m2"].map("{:.1f}".format) + " m² differs from the measured "
        + bad["area_m2"].map("{:.1f}".format) + " m² by "
        + (100 * rel[off]).map("{:.1f}".format)
        + " %; per-mu figures use the measured area (policy area_source = 'recorded' to change)"
    )
    diag.warn_rows(bad, "recorded_area_differs", messages, column="recorded_area_m2")


def _empty_pieces(crs: Any) -> gpd.GeoDataFrame:
    cols = [
        "building_id",
        "parcel_id",
        "footprint_m2",
        "floors",
        "storey_height_m",
        "floor_area_m2",
        "far_floor_area_m2",
        "double_storey",
        "share_of_building",
    ]
    return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=crs)


def _empty_enterprises() -> pd.DataFrame:
    cols = ["uscc", "name", "year", "key", "parcel_ids", "land_m2", "land_mu", "role", *FIGURES]
    return pd.DataFrame({c: [] for c in cols})


def _empty_spread(index: pd.Index) -> pd.DataFrame:
    out = pd.DataFrame(index=index)
    for fig in FIGURES:
        out[fig] = np.nan
    out["n_enterprises"] = 0
    out["n_active"] = 0
    out["holder_land_m2"] = 0.0
    out["tenant_land_m2"] = 0.0
    return out


def _parcel_grades(par: pd.DataFrame, graded: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """Give each parcel the grade and score of its holder (the first holder listed)."""
    if graded.empty or links.empty or "grade" not in graded:
        par["grade"] = pd.Series(pd.NA, index=par.index, dtype=object)
        par["score"] = np.nan
        return par
    holders = links[links["role"] == "holder"].drop_duplicates("parcel_id")
    g = graded.drop_duplicates("uscc").set_index("uscc")
    holder = holders.set_index("parcel_id")["uscc"].reindex(par.index)
    par["grade"] = holder.map(g["grade"])
    par["score"] = holder.map(g["score"])
    return par


def summarise(
    par: pd.DataFrame,
    enterprises: pd.DataFrame,
    findings: pd.DataFrame,
    diag: Diagnostics,
    *,
    as_of: dt.date,
    year: int | None,
    policy: Policy,
    name: str,
    pieces: pd.DataFrame,
    enterprise_years: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Return park totals and averages (JSON-safe) for summary.json and the report."""

    def num(x: Any) -> float | None:
        x = float(x)
        return None if not np.isfinite(x) else round(x, 6)

    built = par["n_buildings"] > 0
    land_mu = par["area_mu"].sum()
    ent_land_mu = enterprises["land_mu"].sum() if "land_mu" in enterprises else 0.0
    supplied = pd.Series(False, index=par.index)
    for col in ("holder_uscc", "holder_name", "supervision_no", "agreed_start"):
        if col in par:
            supplied |= par[col].notna()
    industrial = (
        par["land_use"].astype(str).str.contains("工业|0601", regex=True, na=False)
        if "land_use" in par
        else pd.Series(False, index=par.index)
    )
    totals = {f: num(enterprises[f].sum()) if f in enterprises else None for f in FIGURES}
    per = {
        f"{fig.removesuffix('_wan')}_wan_per_mu": num(enterprises[fig].sum() / ent_land_mu)
        if ent_land_mu > 0 and fig in enterprises
        else None
        for fig in ("tax_wan", "revenue_wan", "output_wan", "value_added_wan")
    }
    built_mu = par.loc[built, "area_mu"].sum()
    codes = findings["code"].value_counts().sort_index() if len(findings) else pd.Series(dtype=int)
    grades = (
        enterprises["grade"].fillna("未评价").value_counts().sort_index()
        if "grade" in enterprises
        else pd.Series(dtype=int)
    )

    def area_of(categories: tuple[str, ...]) -> float | None:
        if findings.empty:
            return 0.0
        ids = findings.loc[findings["category"].isin(categories), "parcel_id"].dropna().unique()
        return num(par.loc[par.index.isin(ids), "area_mu"].sum())

    return {
        "name": name,
        "as_of": as_of.isoformat(),
        "year": year,
        "policy": policy.name,
        "n_parcels": len(par),
        "n_buildings": int(pieces["building_id"].nunique()) if len(pieces) else 0,
        "n_enterprises": len(enterprises),
        "land_mu": num(land_mu),
        "land_m2": num(par["area_m2"].sum()),
        "built_land_mu": num(built_mu),
        "supplied_land_mu": num(par.loc[supplied, "area_mu"].sum()),
        "industrial_land_mu": num(par.loc[industrial, "area_mu"].sum()),
        "enterprise_land_mu": num(ent_land_mu),
        **totals,
        **per,
        "far_overall": num(par.loc[built, "far_floor_area_m2"].sum() / (built_mu * M2_PER_MU))
        if built_mu > 0
        else None,
        "building_density": num(par.loc[built, "footprint_m2"].sum() / (built_mu * M2_PER_MU))
        if built_mu > 0
        else None,
        "far_all_land": num(par["far_floor_area_m2"].sum() / par["area_m2"].sum())
        if par["area_m2"].sum() > 0
        else None,
        "land_built_rate": num(built_mu / par.loc[supplied, "area_mu"].sum())
        if par.loc[supplied, "area_mu"].sum() > 0
        else None,
        "industrial_land_rate": num(par.loc[industrial & built, "area_mu"].sum() / built_mu)
        if built_mu > 0
        else None,
        "idle_land_mu": area_of(("闲置土地",)),
        "suspected_idle_land_mu": area_of(("疑似闲置",)),
        "low_efficiency_land_mu": area_of(("低效用地", "低效")),
        "grades": {str(k): int(v) for k, v in grades.items()},
        "findings": {str(k): int(v) for k, v in codes.items()},
        "by_year": _by_year(enterprise_years),
        "n_warnings": diag.n_warnings,
        "n_rejected": diag.n_rejected,
    }


def _by_year(enterprise_years: pd.DataFrame | None) -> dict[str, dict[str, float | None]]:
    """Park figures per year: totals and per-mu (Σ figure ÷ Σ enterprise land), for YoY."""
    if enterprise_years is None or enterprise_years.empty:
        return {}
    out: dict[str, dict[str, float | None]] = {}
    for year, g in enterprise_years.groupby("year"):
        land = float(g["land_mu"].sum())
        row: dict[str, float | None] = {"land_mu": round(land, 6), "n_enterprises": len(g)}
        for fig in ("tax_wan", "revenue_wan", "output_wan", "value_added_wan"):
            if fig in g:
                total = float(g[fig].sum())
                row[fig] = round(total, 6)
                row[f"{fig}_per_mu"] = round(total / land, 6) if land > 0 else None
        out[str(int(year))] = row
    return out


def demo_dir() -> Path:
    """Return the folder of the bundled demo park (package data, or data/parcels in a checkout)."""
    packaged = resources.files("landeff") / "demo"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "data" / "parcels"
    if checkout.is_dir():
        return checkout
    msg = "the demo park is not installed (landeff/demo in the package, or data/parcels)."
    raise InputError(msg)


def read_demo() -> dict[str, Any]:
    """Return the demo park's inputs as keyword arguments for :func:`evaluate`.

    Examples
    --------
    >>> inputs = read_demo()
    >>> sorted(inputs)
    ['as_of', 'buildings', 'contracts', 'enterprises', 'name', 'parcels', 'policy', 'year']
    """
    d = demo_dir()
    meta = tomllib.loads((d / "demo.toml").read_text(encoding="utf-8"))
    return {
        "parcels": str(d / "parcels.gpkg"),
        "buildings": str(d / "buildings.gpkg"),
        "enterprises": str(d / "enterprises.csv"),
        "contracts": str(d / "contracts.csv"),
        "policy": str(d / "demo-policy.toml"),
        "as_of": meta["as_of"],
        "year": int(meta["year"]),
        "name": str(meta.get("name", "")),
    }


def summary_json(summary: dict[str, Any]) -> str:
    """Return the summary as pretty JSON text."""
    return json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=False)
