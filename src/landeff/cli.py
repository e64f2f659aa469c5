"""Command line: ``landeff evaluate | demo | map | scenario | policies``. A thin layer on the pipeline."""

from __future__ import annotations

import datetime as dt
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .errors import LandeffError
from .pipeline import STAGES, Result, evaluate, read_demo

LANG = click.Choice(["zh", "en"])

_TEXT = {
    "zh": {
        "parcels": "宗地",
        "land": "土地面积",
        "tax": "亩均税收",
        "far": "综合容积率(建成地)",
        "density": "建筑密度(建成地)",
        "enterprises": "企业",
        "grades": "评价等级",
        "findings": "发现问题",
        "warnings": "警告",
        "rejected": "未采用行",
        "written": "已写出",
        "idle": "闲置土地",
        "low": "低效用地",
        "mu": "亩",
        "per_mu": "万元/亩",
        "year": "年度",
        "as_of": "评价日期",
        "none": "无",
        "stage": "步骤",
    },
    "en": {
        "parcels": "parcels",
        "land": "land",
        "tax": "tax per mu",
        "far": "FAR (built land)",
        "density": "building density (built land)",
        "enterprises": "enterprises",
        "grades": "grades",
        "findings": "findings",
        "warnings": "warnings",
        "rejected": "rejected rows",
        "written": "written",
        "idle": "idle land",
        "low": "low-efficiency land",
        "mu": "mu",
        "per_mu": "10k yuan/mu",
        "year": "year",
        "as_of": "as of",
        "none": "none",
        "stage": "stage",
    },
}


def _inputs(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options every evaluating command shares."""
    options = [
        click.option(
            "--parcels",
            help="Parcel (宗地) layer: GeoPackage, Shapefile, GeoJSON, GeoParquet, or a "
            "postgresql:// URL with --parcels-table or --parcels-sql.",
        ),
        click.option(
            "--parcels-layer", default=None, help="Layer name in a multi-layer parcels file."
        ),
        click.option(
            "--buildings",
            help="Building footprints with floors (层数), same sources as --parcels.",
        ),
        click.option("--buildings-layer", default=None, help="Layer name in the buildings file."),
        click.option(
            "--enterprises",
            help="Enterprise table: CSV (UTF-8/GBK) or XLSX with Chinese headers, or a URL.",
        ),
        click.option(
            "--contracts",
            help="Land contracts keyed by 宗地编号 or 电子监管号: CSV, XLSX or a URL.",
        ),
        *[
            click.option(
                f"--{what}-{how}",
                f"{what}_{how}",
                default=None,
                help=f"With a postgresql:// --{what}: the {how_help}.",
            )
            for what in ("parcels", "buildings", "enterprises", "contracts")
            for how, how_help in (("table", "table (schema.table)"), ("sql", "SELECT query"))
        ],
        click.option(
            "--engine",
            type=click.Choice(["single", "dask"]),
            default="single",
            show_default=True,
            help="Run on this machine, or per park on a Dask cluster.",
        ),
        click.option(
            "--scheduler",
            default=None,
            help="Dask scheduler address (tcp://host:8786); default a local cluster.",
        ),
        click.option(
            "--partition-by",
            default=None,
            help="Dask partitions: park_id, county_code or grid (default: what the data has).",
        ),
        click.option(
            "--year",
            type=int,
            default=None,
            help="Year of the enterprise figures. Default: the latest full year before --as-of.",
        ),
        click.option(
            "--as-of",
            "as_of",
            default=None,
            help="Evaluation date, YYYY-MM-DD (inclusive). Default: today.",
        ),
        click.option(
            "--policy",
            default=None,
            help="Evaluation preset name (see `landeff policies`) or a TOML file.",
        ),
        click.option(
            "--crs",
            "input_crs",
            default=None,
            help="CRS of layers that have none: EPSG code, WKT or PROJ string.",
        ),
        click.option(
            "--area-crs",
            default=None,
            help="Projected CRS to measure areas in. Default: the CGCS2000 3-degree "
            "Gauss-Krüger zone of each parcel.",
        ),
        click.option("--sheet", default=None, help="Sheet of the XLSX tables to read."),
        click.option(
            "--encoding",
            default=None,
            help="Text encoding of CSV or shapefile attributes, e.g. gbk.",
        ),
        click.option(
            "--strict",
            is_flag=True,
            help="Exit with an error if any warning or rejected row was recorded.",
        ),
        click.option(
            "--lang",
            type=LANG,
            default="zh",
            show_default=True,
            help="Language of messages and outputs.",
        ),
        click.option("--verbose", "-v", is_flag=True, help="Print each stage's timing."),
    ]
    for opt in reversed(options):
        func = opt(func)
    return func


def _check_sources(kw: dict[str, Any]) -> None:
    """Fail early, in plain words, on an input file that does not exist (URLs pass)."""
    for key in ("parcels", "buildings", "enterprises", "contracts"):
        value = kw.get(key)
        if value and "://" not in value and not Path(value).exists():
            raise click.BadParameter(f"{value!r} does not exist.", param_hint=f"--{key}")


def _run(kw: dict[str, Any], *, name: str = "") -> Result:
    _check_sources(kw)
    as_of = kw.pop("as_of") or dt.date.today().isoformat()
    lang, verbose = kw.pop("lang"), kw.pop("verbose")
    del lang
    bar = _progress()
    try:
        result = evaluate(as_of=as_of, name=name, progress=bar.step, **kw)
    finally:
        bar.close()
    if verbose:
        for stage in STAGES:
            if stage in result.timings:
                click.echo(f"  {stage:<9} {result.timings[stage]:8.3f} s", err=True)
    return result


class _progress:  # noqa: N801 - a small callable holder, used like a function
    def __init__(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=len(STAGES) - 1,
            unit="stage",
            file=sys.stderr,
            leave=False,
            disable=not sys.stderr.isatty(),
        )
        self.started = False

    def step(self, stage: str) -> None:
        if self.started:
            self.bar.update(1)
        self.started = True
        self.bar.set_description(stage)

    def close(self) -> None:
        self.bar.close()


def print_summary(result: Result, lang: str = "zh") -> None:
    """Print the short summary table (park figures, counts per grade and per finding code)."""
    t = _TEXT[lang]
    s = result.summary

    def fmt(v: Any, nd: int = 2) -> str:
        return t["none"] if v is None else f"{v:,.{nd}f}"

    rows = [
        (t["as_of"], s["as_of"]),
        (t["year"], str(s["year"])),
        (t["parcels"], str(s["n_parcels"])),
        (t["land"], f"{fmt(s['land_mu'])} {t['mu']}"),
        (t["tax"], f"{fmt(s.get('tax_wan_per_mu'))} {t['per_mu']}"),
        (t["far"], fmt(s.get("far_overall"))),
        (t["density"], fmt(s.get("building_density"))),
        (t["enterprises"], str(s["n_enterprises"])),
        (t["idle"], f"{fmt(s.get('idle_land_mu'))} {t['mu']}"),
        (t["low"], f"{fmt(s.get('low_efficiency_land_mu'))} {t['mu']}"),
        (t["warnings"], str(s["n_warnings"])),
        (t["rejected"], str(s["n_rejected"])),
    ]
    width = max(_width(k) for k, _ in rows) + 4
    for k, v in rows:
        click.echo(k + " " * (width - _width(k)) + v)
    click.echo(f"{t['grades']}: " + ", ".join(f"{k} {v}" for k, v in s["grades"].items()))
    click.echo(f"{t['findings']}:")
    for code, n in s["findings"].items():
        click.echo(f"  {code:<24}{n:>5}")


def _width(text: str) -> int:
    """Return the width of ``text`` in a terminal (CJK characters take two columns)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="landeff")
def main() -> None:
    """landeff: land efficiency (亩均效益) of industrial parks.

    Measures every parcel (area in 亩, FAR, building density), joins enterprise tax, revenue and energy
    data, grades enterprises A/B/C/D, flags idle and low-efficiency land with the legal reason, and
    writes maps, Excel lists and a one-page report.
    """


def _guard(func: Callable[[], Any]) -> Any:
    try:
        return func()
    except LandeffError as err:
        raise click.ClickException(str(err)) from err


@main.command("evaluate")
@_inputs
@click.option(
    "--out",
    "out_dir",
    required=True,
    help="Folder for the results (parcels.gpkg, enterprises.csv, findings.csv, rejected.csv, "
    "summary.json, idle_land.xlsx, report.html, map.html), or a postgresql:// URL to write the "
    "result tables into --out-schema.",
)
@click.option(
    "--out-schema",
    default="landeff",
    show_default=True,
    help="Database schema for results written to a postgresql:// --out.",
)
@click.option("--parquet", is_flag=True, help="Also write the result tables as GeoParquet.")
@click.option(
    "--public",
    is_flag=True,
    help="Write only public outputs (*_public): no per-enterprise tax or figures.",
)
@click.option("--no-map", is_flag=True, help="Do not write map.html.")
def evaluate_cmd(
    out_dir: str, out_schema: str, parquet: bool, public: bool, no_map: bool, **kw: Any
) -> None:
    """Evaluate a park from its files and write every result to --out."""
    lang = kw["lang"]

    def go() -> None:
        result = _run(kw)
        if "://" in out_dir:
            from .io.postgis import redact_url, write_result_postgis

            tables = write_result_postgis(result, out_dir, schema=out_schema, public=public)
            print_summary(result, lang)
            click.echo(f"{_TEXT[lang]['written']}: {redact_url(out_dir)} ({', '.join(tables)})")
            return
        result.save(out_dir, public=public, lang=lang, with_map=not no_map)
        if parquet:
            from .io.parquet import write_parquet_outputs

            write_parquet_outputs(result, out_dir, public=public)
        print_summary(result, lang)
        click.echo(f"{_TEXT[lang]['written']}: {out_dir}")

    _guard(go)


@main.command("demo")
@click.option(
    "--out",
    "out_dir",
    default="out/demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the demo results.",
)
@click.option(
    "--map",
    "map_path",
    default="maps/demo.html",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the demo map.",
)
@click.option("--lang", type=LANG, default="zh", show_default=True, help="Language of outputs.")
def demo_cmd(out_dir: str, map_path: str, lang: str) -> None:
    """Evaluate the bundled (synthetic) demo park and write its map and results."""

    def go() -> None:
        inputs = read_demo()
        result = evaluate(**inputs)
        result.save(out_dir, lang=lang)
        Path(map_path).parent.mkdir(parents=True, exist_ok=True)
        result.to_map(map_path, lang=lang, color_by="tax_wan_per_mu")
        print_summary(result, lang)
        click.echo(f"{_TEXT[lang]['written']}: {out_dir}, {map_path}")

    _guard(go)


@main.command("map")
@_inputs
@click.option(
    "--out", "out_path", required=True, type=click.Path(dir_okay=False), help="HTML file to write."
)
@click.option("--public", is_flag=True, help="Leave out every per-enterprise figure (for release).")
@click.option(
    "--offline",
    is_flag=True,
    help="Inline every script and style so the map works with no internet (政务外网).",
)
@click.option(
    "--basemap",
    default="auto",
    show_default=True,
    help="auto, tianditu, gaode, osm, none, or a tile URL template.",
)
@click.option(
    "--color-by",
    default="grade",
    show_default=True,
    help="grade, or a numeric column such as tax_wan_per_mu or far.",
)
def map_cmd(
    out_path: str, public: bool, offline: bool, basemap: str, color_by: str, **kw: Any
) -> None:
    """Write the interactive park map (one HTML file)."""
    lang = kw["lang"]

    def go() -> None:
        result = _run(kw)
        result.to_map(
            out_path, public=public, offline=offline, basemap=basemap, color_by=color_by, lang=lang
        )
        click.echo(f"{_TEXT[lang]['written']}: {out_path}")

    _guard(go)


@main.command("scenario")
@_inputs
@click.option("--target-far", type=float, required=True, help="Target FAR, e.g. 1.37 for 工业上楼.")
@click.option(
    "--out",
    "out_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="CSV of per-parcel results (optional).",
)
def scenario_cmd(target_far: float, out_path: str | None, **kw: Any) -> None:
    """工业上楼 scenario: land freed and floor area gained at a target FAR."""
    from .io.write import write_csv
    from .scenario import scenario

    def go() -> None:
        result = _run(kw)
        per_parcel, park = scenario(result, target_far)
        for k, v in park.items():
            click.echo(f"{k:<36}{v}")
        if out_path:
            write_csv(per_parcel.reset_index(), out_path)

    _guard(go)


@main.command("policies")
def policies_cmd() -> None:
    """List the evaluation presets that ship with landeff."""
    from .policy import list_presets

    for name, title in list_presets():
        click.echo(f"{name:<28}{title}")


if __name__ == "__main__":  # pragma: no cover
    main()
