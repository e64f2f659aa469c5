"""Generate the SYNTHETIC demo park bundled with landeff (data/parcels/).

The park is invented: a grid of blocks near Hengshan county, Hunan (about 112.87E, 27.23N), cut on
its south-west side by a river, with old industrial plots (FAR about 0.5), a 工业上楼
standard-factory block (FAR >= 1.37), a newer zone whose plots carry land contracts
(2019-2024), and the cases the rules must find (idle land, stalled and overdue projects,
low FAR, stopped firms, ...).

Everything is drawn from one ``numpy.random.Generator`` with a fixed seed, so two runs
write the same CSV bytes (and the same geometries). Geometry is built in metres in
CGCS2000 / 3-degree Gauss-Krüger CM 114E (EPSG:4547, the zone landeff measures this site
in: 3 * round(112.87 / 3) = 114) and stored in CGCS2000 geographic (EPSG:4490).

Run::

    .venv/bin/python scripts/make_demo.py            # writes data/parcels/
    .venv/bin/python scripts/make_demo.py --out DIR  # writes DIR/
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon, box

SEED = 20250630
AS_OF = date(2025, 6, 30)
YEAR = 2024
BUILD_EPSG = 4547  # CGCS2000 / 3-degree GK CM 114E: the zone of 112.87E
STORE_EPSG = 4490  # CGCS2000 geographic
CENTRE_LONLAT = (112.87, 27.23)
ROTATION_DEG = 8.0
M2_PER_MU = 10000.0 / 15.0
TARGET_TAX_WAN_PER_MU = 12.7
COUNTY_CODE = "430423"  # 衡山县
OUT_DEFAULT = Path(__file__).resolve().parents[1] / "data" / "parcels"

# --------------------------------------------------------------------------------------------
# Unified social credit codes (GB 32100-2015) and organisation codes (GB 11714-1997)
# --------------------------------------------------------------------------------------------
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARS)}
# 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def uscc_check_char(body17: str) -> str:
    """Return the GB 32100-2015 check character for the first 17 characters of a code."""
    total = sum(USCC_VALUE[c] * w for c, w in zip(body17, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def uscc_is_valid(code: str) -> bool:
    """Return whether ``code`` is 18 USCC characters with a correct check character."""
    return (
        len(code) == 18
        and all(c in USCC_VALUE for c in code)
        and uscc_check_char(code[:17]) == code[17]
    )


def org_code_check_char(body8: str) -> str:
    """Return the GB 11714 check character of an 8-character organisation code body."""
    total = sum(int(c, 36) * w for c, w in zip(body8, ORG_WEIGHTS, strict=True))
    c9 = 11 - total % 11
    return {10: "X", 11: "0"}.get(c9, str(c9))


def make_uscc(rng: np.random.Generator, region: str, new_style: bool) -> str:
    """Return a valid 18-character USCC: 9 (工商) 1 (企业), region, organisation code, check."""
    if new_style:  # codes issued since 2015 carry an "MA" organisation code
        tail = "".join(rng.choice(list("0123456789ABCDEFGHJKLMNPQRTUWXY"), size=6))
        body8 = "MA" + tail
    else:  # older firms kept their numeric organisation code
        body8 = "".join(rng.choice(list("0123456789"), size=8))
    org = body8 + org_code_check_char(body8)
    body17 = "91" + region + org
    return body17 + uscc_check_char(body17)


# --------------------------------------------------------------------------------------------
# Names (invented; 字号 built from two random characters)
# --------------------------------------------------------------------------------------------
ZIHAO_1 = list("鑫恒华瑞泰盛德嘉宏兴达锦晟湘岳翔博创源丰润永正远昌隆祥新宇科金")
ZIHAO_2 = list("衡峰南川麓辰越邦诚信安和利通泽嵘沣汇立凯岳桓鼎禾铭晖")
PLACE = ["衡山县", "衡阳", "湖南", "湖南", "衡山"]
SUFFIX = ["有限公司", "有限公司", "有限公司", "有限责任公司", "股份有限公司"]

# GB/T 4754-2017 codes used in the park, with a trade word for the name and a weight
INDUSTRY = {
    "1391": ("淀粉制品", 3), "1371": ("食品", 2), "1419": ("食品", 2), "1819": ("服饰", 2),
    "2110": ("家具", 2), "2231": ("包装", 3), "2929": ("塑业", 5), "3021": ("建材", 3),
    "3252": ("铝业", 3), "3311": ("钢结构", 4), "3340": ("金属制品", 3), "3360": ("表面处理", 4),
    "3399": ("五金", 4), "3511": ("重工机械", 3), "3670": ("汽车零部件", 4), "3821": ("电气", 3),
    "3841": ("新能源", 3), "3911": ("电子科技", 3), "3982": ("电路科技", 4), "33": ("金属科技", 2),
    "39": ("智能科技", 2), "2641": ("涂料", 1), "2614": ("化工", 1),
}
OLD_CODES = [c for c in INDUSTRY if c not in ("2641", "2614")]


class Names:
    """Unique invented company names."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def make(self, trade: str, place: str | None = None, suffix: str | None = None) -> str:
        rng = self.rng
        for _ in range(1000):
            p = place if place is not None else PLACE[int(rng.integers(len(PLACE)))]
            z = ZIHAO_1[int(rng.integers(len(ZIHAO_1)))] + ZIHAO_2[int(rng.integers(len(ZIHAO_2)))]
            s = suffix if suffix is not None else SUFFIX[int(rng.integers(len(SUFFIX)))]
            name = f"{p}{z}{trade}{s}"
            if name not in self.used:
                self.used.add(name)
                return name
        raise RuntimeError("ran out of names")


# --------------------------------------------------------------------------------------------
# Layout: blocks along roads, parcels in two rows per block
# --------------------------------------------------------------------------------------------
COL_W = [400.0, 380.0, 360.0, 420.0, 380.0, 400.0]
ROW_H = [320.0, 300.0, 300.0, 320.0]
ROAD_AFTER_COL = [30.0, 30.0, 50.0, 30.0, 30.0]
ROAD_AFTER_ROW = [30.0, 50.0, 30.0]
CHAMFER_M = 10.0  # corner cut (切角) of blocks at road crossings

NEW_ZONE = {(4, 1), (5, 1), (4, 2), (5, 2), (4, 3), (5, 3)}
SMALL_BLOCK = (1, 2)
STANDARD_FACTORY_BLOCK = (2, 2)
WAREHOUSE_BLOCK = (5, 0)
COMMERCIAL_HALF = ((3, 0), 0)
REMAINDER_OLD_HALF = ((1, 3), 1)
REMAINDER_NEW_HALF = ((5, 2), 0)


def _offsets(sizes: list[float], gaps: list[float]) -> list[float]:
    out, pos = [], 0.0
    for i, s in enumerate(sizes):
        out.append(pos)
        pos += s + (gaps[i] if i < len(gaps) else 0.0)
    return out


def _split(rng: np.random.Generator, total: float, target: float) -> list[float]:
    k = max(1, round(total / target))
    w = rng.uniform(0.8, 1.2, size=k)
    w = np.round(w / w.sum() * total * 2) / 2
    w[-1] = total - w[:-1].sum()
    return [float(v) for v in w]


def river_cut() -> Polygon:
    """Return the land south-west of the river (outside the park), in local metres."""
    xs = np.linspace(-50, 760, 40)
    ys = 470 - 0.66 * xs + 25 * np.sin(xs / 95.0)
    line = list(zip(xs, ys, strict=True))
    return Polygon([(-100, -100), *line, (760, -100)])


def chamfered(x0: float, y0: float, x1: float, y1: float, c: float) -> Polygon:
    return Polygon([
        (x0 + c, y0), (x1 - c, y0), (x1, y0 + c), (x1, y1 - c),
        (x1 - c, y1), (x0 + c, y1), (x0, y1 - c), (x0, y0 + c),
    ])


def inscribed_rect(geom: Polygon, rect: tuple) -> tuple:
    """Return the largest sub-rectangle of ``rect`` inside ``geom`` that keeps one of its corners.

    The river and the hill cut parcels from one side, so what is left keeps at least one corner.
    """
    x0, y0, x1, y1 = rect
    w, h = x1 - x0, y1 - y0
    room = geom.buffer(0.5)
    best, best_area = (x1 - 1, y1 - 1, x1, y1), 0.0
    steps = np.linspace(0, 0.9, 19)
    for fx in steps:
        for fy in steps:
            for sub in ((x0 + fx * w, y0 + fy * h, x1, y1), (x0, y0 + fy * h, x1 - fx * w, y1),
                        (x0 + fx * w, y0, x1, y1 - fy * h), (x0, y0, x1 - fx * w, y1 - fy * h)):
                area = (sub[2] - sub[0]) * (sub[3] - sub[1])
                if area > best_area and room.contains(box(*sub)):
                    best, best_area = sub, area
    return tuple(float(v) for v in best)


def hill_cut() -> Polygon:
    """Return the hill slope north-west of the park (outside it), in local metres."""
    xs = np.linspace(-50, 620, 30)
    ys = 1262 + 0.16 * xs + 18 * np.sin(xs / 70.0)
    return Polygon([(-100, 1500), *zip(xs, ys, strict=True), (620, 1500)])


def make_layout(rng: np.random.Generator) -> pd.DataFrame:
    """Return the parcels in local metres: geometry, source rectangle, block, half, zone."""
    xs = _offsets(COL_W, ROAD_AFTER_COL)
    ys = _offsets(ROW_H, ROAD_AFTER_ROW)
    river = river_cut().union(hill_cut())
    rows = []
    for j, (y0, h) in enumerate(zip(ys, ROW_H, strict=True)):
        for i, (x0, w) in enumerate(zip(xs, COL_W, strict=True)):
            blk = chamfered(x0, y0, x0 + w, y0 + h, CHAMFER_M)
            for half in (0, 1):
                hy0 = y0 + half * h / 2
                hy1 = hy0 + h / 2
                if (i, j) == STANDARD_FACTORY_BLOCK:
                    zone, widths = "standard", [w / 3] * 3
                elif (i, j) == WAREHOUSE_BLOCK:
                    zone, widths = "warehouse", _split(rng, w, 130)
                elif ((i, j), half) == COMMERCIAL_HALF:
                    zone, widths = "commercial", _split(rng, w, 140)
                elif ((i, j), half) == REMAINDER_OLD_HALF:
                    zone, widths = "remainder_old", [w]
                elif ((i, j), half) == REMAINDER_NEW_HALF:
                    zone, widths = "new", [300.0, w - 300.0]
                elif (i, j) in NEW_ZONE:
                    zone, widths = "new", _split(rng, w, 95)
                elif (i, j) == SMALL_BLOCK:
                    zone, widths = "small", _split(rng, w, 48)
                else:
                    zone, widths = "old", _split(rng, w, 100)
                px = x0
                for k, pw in enumerate(widths):
                    rect = (px, hy0, px + pw, hy1)
                    geom = box(*rect).intersection(blk)
                    clipped = geom.intersects(river)
                    if clipped:
                        geom = geom.difference(river)
                        if geom.geom_type == "MultiPolygon":
                            geom = max(geom.geoms, key=lambda g: g.area)
                    if geom.is_empty or geom.area < max(3500.0, 0.35 * pw * h / 2):
                        px += pw
                        continue
                    if clipped:
                        rect = inscribed_rect(geom, rect)
                        if (rect[2] - rect[0]) * (rect[3] - rect[1]) < 0.45 * geom.area:
                            px += pw  # a sliver with no room for a workshop: left as green space
                            continue
                    rows.append({
                        "geometry": geom, "rect": rect, "block": (i, j), "half": half, "slot": k,
                        "zone": zone, "river": clipped,
                    })
                    px += pw
    df = pd.DataFrame(rows)
    # ids run north to south, west to east, as a bureau numbers its map sheets
    cy = df["geometry"].map(lambda g: g.centroid.y)
    cx = df["geometry"].map(lambda g: g.centroid.x)
    df = df.assign(_r=-(cy // 150), _x=cx).sort_values(["_r", "_x"]).drop(columns=["_r", "_x"])
    df = df.reset_index(drop=True)
    df["pid"] = [f"HS-{n:03d}" for n in range(1, len(df) + 1)]
    df["area_m2"] = df["geometry"].map(lambda g: g.area)
    return df


# --------------------------------------------------------------------------------------------
# Buildings
# --------------------------------------------------------------------------------------------
@dataclass
class Bldg:
    pid: str
    geom: Polygon
    floors: int
    storey_m: float
    given_storey: bool = True
    given_height: bool = False


@dataclass
class Plan:
    """What to build on a parcel: storey list [(floors, storey_m)], density, part of the rect."""

    floors: list[tuple[int, float]]
    density: float
    part: tuple[float, float] = (0.0, 1.0)  # fraction of the long axis to build on
    keep: int | None = None  # build only the first `keep` buildings (construction in progress)
    may_shrink: bool = False  # old plots: a density that does not fit is lowered
    extra: list[str] = field(default_factory=list)


def place(rng: np.random.Generator, pid: str, geom: Polygon, rect: tuple, plan: Plan,
          setback: float = 10.0, gap: float = 14.0) -> list[Bldg]:
    """Place len(plan.floors) equal rectangles in a row along the parcel's long axis."""
    x0, y0, x1, y1 = rect
    horizontal = (x1 - x0) >= (y1 - y0)
    lo, hi = plan.part
    if horizontal:
        L0, L1, D0, D1 = x0 + lo * (x1 - x0), x0 + hi * (x1 - x0), y0, y1
    else:
        L0, L1, D0, D1 = y0 + lo * (y1 - y0), y0 + hi * (y1 - y0), x0, x1
    L0, L1, D0, D1 = L0 + setback, L1 - setback, D0 + setback, D1 - setback
    floors = list(plan.floors)
    depth = D1 - D0
    while True:
        n = len(floors)
        slot = (L1 - L0 - (n - 1) * gap) / n
        ratio = plan.density * geom.area / n / (slot * depth)
        if ratio <= 1.0 or n == 1 or not plan.may_shrink:
            break
        floors = floors[:-1]  # a small plot: fewer, larger buildings
    if ratio > 1.0:
        if not plan.may_shrink:
            raise ValueError(f"{pid}: density {plan.density} does not fit ({ratio:.2f})")
        ratio = 0.92
    a = min(1.0, math.sqrt(ratio) * rng.uniform(0.95, 1.1))
    b = ratio / a
    if b > 1:
        b, a = 1.0, ratio
    out = []
    inner = geom.buffer(-6.0)
    for k, (fl, st) in enumerate(floors):
        if plan.keep is not None and k >= plan.keep:
            break
        l_len, d_len = slot * a, depth * b
        s0 = L0 + k * (slot + gap) + (slot - l_len) / 2
        d0 = D0 + (depth - d_len) * rng.uniform(0.3, 0.7)
        g = box(s0, d0, s0 + l_len, d0 + d_len) if horizontal else box(d0, s0, d0 + d_len, s0 + l_len)
        if not inner.contains(g):  # irregular (river-cut) parcels: keep the part inside
            g = g.intersection(inner)
            if g.geom_type == "MultiPolygon":
                g = max(g.geoms, key=lambda p: p.area)
            if g.is_empty or g.area < 200:
                continue
        out.append(Bldg(pid, g, fl, st))
    return out


def old_floors(rng: np.random.Generator, n: int) -> list[tuple[int, float]]:
    """Storeys of an old plot: mostly single-storey workshops, some 2-3 storeys, tall halls."""
    out = []
    for _ in range(n):
        u = rng.random()
        if u < 0.66:
            out.append((1, float(rng.choice([5.5, 6.0, 6.5, 7.0]))))
        elif u < 0.88:
            out.append((2, float(rng.choice([4.2, 4.5, 4.8]))))
        elif u < 0.93:
            out.append((3, float(rng.choice([3.6, 3.9]))))
        else:
            out.append((1, float(rng.choice([9.0, 10.5, 12.0]))))
    return out


def eff_floors(fl: list[tuple[int, float]]) -> float:
    """Mean floors counted for FAR (a storey over 8 m counts twice)."""
    return float(np.mean([f * (2 if s > 8 else 1) for f, s in fl]))


# --------------------------------------------------------------------------------------------
# Contract and enterprise specs
# --------------------------------------------------------------------------------------------
D = date.fromisoformat


@dataclass
class Contract:
    """A land contract row, with what stands on the parcel and the firm that runs it."""

    signed: date
    start: date
    completion: date
    actual_start: date | None = None
    actual_completion: date | None = None
    suspended: date | None = None
    developed_frac: float | None = None
    invest_frac: float = 1.0
    price: bool = True
    gov: str = "否"
    committed_tax: float | None = None
    committed_output: float | None = None
    yard_frac: float | None = None
    far_min: float = 1.0
    # building plan: none, stalled, partial1/2, full, lowfar, coverage_low/ok, remainder
    kind: str = "none"
    prod: date | None = None  # production start of the holder firm (None: no firm rows)
    tax_per_mu: float | None = None  # fixed 2024 tax per 亩 of the firm


def K(dates: str, **kw: object) -> Contract:
    """Build a Contract from 'signed start completion [actual_start [actual_completion]]'."""
    ds = [D(t) for t in dates.split()]
    if isinstance(kw.get("prod"), str):
        kw["prod"] = D(str(kw["prod"]))
    if isinstance(kw.get("suspended"), str):
        kw["suspended"] = D(str(kw["suspended"]))
    return Contract(*ds, **kw)  # type: ignore[arg-type]


def contract_roles() -> dict[str, Contract]:
    """The contract cases of the new zone, as of 2025-06-30 (see the README's CASES table)."""
    idle = {"invest_frac": 0.0}
    return {
        # never started: 约定开工 one / two full years before as_of (fee / reclaim)
        "IDLE_FEE_PRICE": K("2023-05-18 2023-11-20 2025-11-20", **idle),
        "IDLE_FEE_NOPRICE_LEAPDAY": K("2023-08-29 2024-02-29 2026-02-28", price=False, **idle),
        "IDLE_RECLAIM_PRICE": K("2022-03-15 2022-09-15 2024-09-15", **idle),
        "IDLE_RECLAIM_NOPRICE": K("2020-11-10 2021-05-10 2023-05-10", price=False, **idle),
        "IDLE_EXACT_1Y": K("2023-12-30 2024-06-30 2026-06-30", **idle),
        "IDLE_EXACT_2Y": K("2022-12-30 2023-06-30 2025-12-30", **idle),
        "IDLE_GOV_CAUSE": K("2022-06-01 2022-12-01 2024-12-01", gov="是", **idle),
        # started, then suspended
        "STALLED_FEE": K("2021-03-20 2021-09-20 2023-09-20 2021-10-10", suspended="2023-08-01",
                         developed_frac=0.20, invest_frac=0.18, kind="stalled"),
        "STALLED_RECLAIM": K("2020-06-12 2020-12-12 2022-12-12 2020-12-28", suspended="2022-03-01",
                             developed_frac=0.30, invest_frac=0.40, kind="stalled"),
        "SUSPENDED_RECENT": K("2023-09-01 2024-03-01 2026-03-01 2024-03-15", suspended="2024-12-20",
                              developed_frac=0.15, invest_frac=0.12, kind="stalled"),
        # lifecycle (赛马)
        "OVERDUE_START": K("2024-07-15 2025-01-15 2027-01-15", **idle),
        "OVERDUE_START_EDGE": K("2024-01-01 2024-07-01 2026-07-01", **idle),
        "OVERDUE_COMPLETION": K("2022-07-20 2023-01-20 2024-12-31 2023-03-20",
                                developed_frac=0.60, invest_frac=0.65, kind="partial2"),
        "OVERDUE_COMPLETION_2Y": K("2020-04-30 2020-10-30 2022-10-30 2020-12-01",
                                   developed_frac=0.55, invest_frac=0.60, kind="partial2"),
        "UNDER_CONSTRUCTION_A": K("2023-10-20 2024-04-20 2026-04-20 2024-05-06",
                                  developed_frac=0.35, invest_frac=0.40, kind="partial1"),
        "UNDER_CONSTRUCTION_B": K("2024-03-01 2024-09-01 2026-09-01 2024-10-15",
                                  developed_frac=0.10, invest_frac=0.15, kind="partial1"),
        "FUTURE_START_A": K("2024-11-28 2025-08-31 2027-08-31", **idle),
        "FUTURE_START_B": K("2024-12-20 2025-12-20 2027-12-20", **idle),
        # completed and in production
        "INVESTMENT_SHORTFALL": K("2020-09-10 2021-03-10 2023-06-30 2021-03-01 2023-05-20",
                                  invest_frac=0.70, committed_tax=15.0, kind="full",
                                  prod="2023-06-10"),
        "INVESTMENT_SHORTFALL_50": K("2019-08-20 2020-02-20 2022-09-30 2020-03-05 2022-08-15",
                                     invest_frac=0.42, committed_tax=15.0, kind="full",
                                     prod="2022-10-01"),
        "BELOW_COMMITMENT_TAX": K("2019-11-11 2020-05-11 2022-05-11 2020-05-20 2021-12-28",
                                  invest_frac=1.05, committed_tax=20.0, committed_output=400.0,
                                  kind="full", prod="2022-01-15", tax_per_mu=8.5),
        "BELOW_COMMITMENT_OUTPUT": K("2020-01-08 2020-07-08 2022-07-08 2020-07-15 2022-03-30",
                                     invest_frac=1.02, committed_tax=15.0, committed_output=500.0,
                                     kind="full", prod="2022-05-01", tax_per_mu=18.0),
        "LOW_FAR_CONTRACT": K("2019-06-25 2019-12-25 2021-12-25 2020-01-10 2021-11-30",
                              committed_tax=15.0, kind="lowfar", prod="2022-02-20"),
        "LOW_COVERAGE_YARD": K("2019-09-16 2020-03-16 2022-03-16 2020-03-30 2022-01-18",
                               invest_frac=1.08, committed_tax=15.0, yard_frac=0.08, far_min=0.6,
                               kind="coverage_low", prod="2022-04-01"),
        "COVERAGE_YARD_OK": K("2020-02-26 2020-08-26 2022-08-26 2020-09-02 2022-06-30",
                              invest_frac=1.10, committed_tax=15.0, yard_frac=0.15, far_min=0.6,
                              kind="coverage_ok", prod="2022-08-08"),
        "CLASS_T_NEW_PRODUCTION": K("2021-10-01 2022-04-01 2024-04-01 2022-04-18 2024-01-20",
                                    committed_tax=15.0, kind="full", prod="2024-03-18"),
        "REMAINDER_NEW": K("2020-05-15 2020-11-15 2022-11-15 2020-11-20 2022-05-26",
                           committed_tax=15.0, kind="remainder", prod="2022-07-01"),
    }


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def fmt_date(d: date | None, rng: np.random.Generator) -> str:
    """ISO or Chinese form, as a real ledger mixes them."""
    if d is None:
        return ""
    if rng.random() < 0.35:
        return f"{d.year}年{d.month}月{d.day}日"
    return d.isoformat()


def rand_date(rng: np.random.Generator, lo: date, hi: date) -> date:
    return lo + timedelta(days=int(rng.integers(0, (hi - lo).days + 1)))


def fmt_num(x: float | None, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{x:.{nd}f}"


def supervision_no(year: int, serial: int) -> str:
    return f"{COUNTY_CODE}{year}B{serial:05d}"


def to_store(geoms: list, centre_local: tuple[float, float]) -> gpd.GeoSeries:
    """Rotate local metres about the park centre, move them to Hengshan (EPSG:4547), go to 4490."""
    e0, n0 = Transformer.from_crs(STORE_EPSG, BUILD_EPSG, always_xy=True).transform(*CENTRE_LONLAT)
    cx, cy = centre_local
    t = math.radians(ROTATION_DEG)
    c, s = math.cos(t), math.sin(t)

    def move(xy: np.ndarray) -> np.ndarray:
        dx, dy = xy[:, 0] - cx, xy[:, 1] - cy
        return np.column_stack([e0 + c * dx - s * dy, n0 + s * dx + c * dy])

    moved = shapely.transform(np.asarray(geoms, dtype=object), move)
    projected = gpd.GeoSeries(moved, crs=BUILD_EPSG)
    return projected.to_crs(STORE_EPSG)


# --------------------------------------------------------------------------------------------
# main generator
# --------------------------------------------------------------------------------------------
def generate(out: Path) -> dict[str, float]:
    rng = np.random.default_rng(SEED)
    names = Names(rng)
    parcels = make_layout(rng)
    n = len(parcels)
    role = pd.Series("OLD", index=parcels.index, dtype=object)
    cases: dict[str, list[str]] = {}

    def mark(idx: int, r: str) -> None:
        role[idx] = r

    # ---- fixed zones
    for idx, z in parcels["zone"].items():
        if z == "standard":
            mark(idx, "STANDARD_FACTORY")
        elif z == "warehouse":
            mark(idx, "WAREHOUSE")
        elif z == "commercial":
            mark(idx, "COMMERCIAL")
        elif z == "remainder_old":
            mark(idx, "REMAINDER_OLD")
        elif z == "small":
            mark(idx, "SMALL_OLD")
    # the unleased standard factory: the last one in id order
    std = parcels.index[role == "STANDARD_FACTORY"]
    mark(std[-1], "STANDARD_FACTORY_VACANT")
    # remainder_new: the 300 m parcel of its half-block
    rn = parcels.index[(parcels["zone"] == "new")
                       & (parcels["block"] == REMAINDER_NEW_HALF[0])
                       & (parcels["half"] == REMAINDER_NEW_HALF[1]) & (parcels["slot"] == 0)]
    mark(rn[0], "REMAINDER_NEW")
    # new zone: shuffle and hand out the contract roles, 4 unsupplied, the rest normal
    new_idx = [i for i in parcels.index[parcels["zone"] == "new"] if role[i] == "OLD"]
    new_idx = list(rng.permutation(new_idx))
    roles_new = [r for r in contract_roles() if r != "REMAINDER_NEW"]
    roles_new += ["UNSUPPLIED"] * 4
    for i, r in zip(new_idx, roles_new, strict=False):
        mark(int(i), r)
    for i in new_idx[len(roles_new):]:
        mark(int(i), "NEW_NORMAL")
    # river-side parcels: water works and sewage plant (公共管理与公共服务用地)
    river_old = [i for i in parcels.index[parcels["river"]] if role[i] == "OLD"]
    river_old = sorted(river_old, key=lambda i: -parcels.at[i, "area_m2"])
    mark(river_old[0], "UTILITY_WATER")
    mark(river_old[1], "UTILITY_SEWAGE")

    def pick(k: int, pool_role: str = "OLD", min_area: float = 0.0) -> list[int]:
        pool = [i for i in parcels.index
                if role[i] == pool_role and parcels.at[i, "area_m2"] >= min_area
                and not parcels.at[i, "river"]]
        return [int(i) for i in rng.choice(pool, size=k, replace=False)]

    for i in pick(1):
        mark(i, "UTILITY_POWER")
    # pairs of adjacent old parcels in one half-row (for straddling buildings and 2-parcel firms)
    key = parcels["block"].astype(str) + "/" + parcels["half"].astype(str)

    def adjacent_pairs() -> list[tuple[int, int]]:
        out = []
        for _, grp in parcels.groupby(key, sort=True):
            g = grp.sort_values("slot")
            ids = list(g.index)
            for a, b in zip(ids[:-1], ids[1:], strict=True):
                if (role[a] == "OLD" and role[b] == "OLD" and g.at[b, "slot"] == g.at[a, "slot"] + 1
                        and not parcels.at[a, "river"] and not parcels.at[b, "river"]):
                    out.append((int(a), int(b)))
        return out

    pairs = adjacent_pairs()
    chosen = [pairs[int(k)] for k in rng.choice(len(pairs), size=len(pairs), replace=False)]
    used: set[int] = set()
    multi_pairs, straddle_pairs = [], []
    for a, b in chosen:
        if a in used or b in used:
            continue
        if len(multi_pairs) < 2:
            multi_pairs.append((a, b))
        elif len(straddle_pairs) < 3:
            straddle_pairs.append((a, b))
        else:
            break
        used.update((a, b))
    for a, b in multi_pairs:
        mark(a, "MULTI_PARCEL")
        mark(b, "MULTI_PARCEL")
    for a, b in straddle_pairs:
        mark(a, "STRADDLE")
        mark(b, "STRADDLE_NEIGHBOUR")
    # a firm on two parcels that are not adjacent, linked through the holder code only
    far_pair = pick(2)
    for i in far_pair:
        mark(i, "MULTI_PARCEL_HOLDER")
    for r, k in (("IDLE_SUSPECTED", 2), ("VACANT_BUILDING", 1), ("STOPPED_2024", 2), ("ZOMBIE", 2),
                 ("TAX_REFUND", 1), ("LOW_DENSITY", 3), ("OVERLAP", 3), ("GRADE_DD", 1),
                 ("BAD_USCC", 1)):
        for i in pick(k, min_area=8000.0):
            mark(i, r)
    parcels["role"] = role

    # ---------------------------------------------------------------- land use, industry, holders
    land_use = pd.Series("工业用地", index=parcels.index, dtype=object)
    land_use[role == "WAREHOUSE"] = "仓储用地"
    land_use[role == "COMMERCIAL"] = "商服用地"
    land_use[role.isin(["UTILITY_WATER", "UTILITY_SEWAGE"])] = "公共管理与公共服务用地"
    industry = pd.Series("", index=parcels.index, dtype=object)
    weights = np.array([INDUSTRY[c][1] for c in OLD_CODES], dtype=float)
    industry[:] = rng.choice(OLD_CODES, size=n, p=weights / weights.sum())
    wh_codes = ["5920", "5920", "5930", "5990", "5920", "5920", "5920", "5930"]
    for k, i in enumerate(parcels.index[role == "WAREHOUSE"]):
        industry[i] = wh_codes[k % len(wh_codes)]
    for k, i in enumerate(parcels.index[role == "COMMERCIAL"]):
        industry[i] = ["6110", "6210", "5261"][k % 3]
    industry[role == "UTILITY_WATER"] = "4610"
    industry[role == "UTILITY_SEWAGE"] = "4620"
    industry[role == "UTILITY_POWER"] = "4411"
    industry[role.isin(["STANDARD_FACTORY", "STANDARD_FACTORY_VACANT"])] = "39"
    industry[role == "LOW_COVERAGE_YARD"] = "2641"
    industry[role == "COVERAGE_YARD_OK"] = "2614"
    parcels["industry"] = industry
    parcels["land_use"] = land_use

    # ---------------------------------------------------------------- buildings
    crole = contract_roles()
    bldgs: list[Bldg] = []
    for _, p in parcels.iterrows():
        r = p["role"]
        geom, rect = p["geometry"], p["rect"]
        if r in ("UNSUPPLIED", "IDLE_SUSPECTED") or (r in crole and crole[r].kind == "none"):
            continue
        if r in ("STANDARD_FACTORY", "STANDARD_FACTORY_VACANT"):
            fl = int(rng.choice([4, 5, 5, 6]))
            storey = float(rng.choice([4.8, 5.4]))
            plan = Plan([(fl, storey)] * 3, density=float(rng.uniform(0.36, 0.40)))
        elif r in crole:
            kind = crole[r].kind
            if kind == "stalled":
                plan = Plan([(1, 6.0)], density=0.06)
            elif kind in ("partial1", "partial2"):
                plan = Plan([(2, 4.5), (1, 9.0), (4, 3.6)], density=0.42,
                            keep=1 if kind == "partial1" else 2)
            elif kind == "lowfar":
                plan = Plan([(1, 6.5), (1, 6.5), (2, 4.2)], density=0.47)
            elif kind == "coverage_low":
                plan = Plan([(4, 4.2), (3, 4.5), (4, 4.2)], density=0.17)
            elif kind == "coverage_ok":
                plan = Plan([(3, 4.5), (3, 4.5)], density=0.23)
            elif kind == "remainder":
                plan = Plan([(2, 4.5), (4, 3.6)], density=0.20, part=(0.0, 0.45))
            else:  # full
                fl = [(3, 4.5), (1, 9.0), (4, 3.6)]
                plan = Plan(fl, density=float(rng.uniform(1.05, 1.30)) / eff_floors(fl))
        elif r == "NEW_NORMAL":
            fl = [(3, 4.5), [(1, 9.0), (2, 6.0)][int(rng.integers(2))], (4, 3.6)]
            plan = Plan(fl, density=float(rng.uniform(1.05, 1.30)) / eff_floors(fl))
        elif r == "REMAINDER_OLD":
            plan = Plan([(1, 6.5), (2, 4.5)], density=0.16, part=(0.0, 0.35))
        elif r == "LOW_DENSITY":
            fl = [(2, 4.5), (2, 4.5)]
            plan = Plan(fl, density=float(rng.uniform(0.17, 0.22)))
        elif r in ("WAREHOUSE", "COMMERCIAL", "UTILITY_WATER", "UTILITY_SEWAGE", "UTILITY_POWER"):
            fl = [(1, 9.0), (1, 7.0), (1, 9.0)] if r == "WAREHOUSE" else [(3, 3.9), (1, 6.0), (2, 4.5)]
            plan = Plan(fl, density=float(rng.uniform(0.38, 0.45)), may_shrink=True)
        else:  # old plots: FAR ~ N(0.5, 0.08); density follows from the storeys
            nb = int(rng.integers(2, 5)) if p["area_m2"] > 9000 else int(rng.integers(1, 3))
            fl = old_floors(rng, nb)
            far = float(np.clip(rng.normal(0.48, 0.08), 0.30, 0.64))
            dens = float(np.clip(far / eff_floors(fl), 0.31, 0.50))
            plan = Plan(fl, density=dens, may_shrink=True)
        try:
            bldgs.extend(place(rng, p["pid"], geom, rect, plan))
        except ValueError as err:
            raise ValueError(f"{err} role {r} rect {rect}") from err

    # straddling: extend the building nearest the shared edge 6 m into the neighbour
    pid_of = parcels["pid"]
    for a, _b in straddle_pairs:
        ra, pa = parcels.at[a, "rect"], pid_of[a]
        edge_x = ra[2]
        mine = [bd for bd in bldgs if bd.pid == pa]
        bd = max(mine, key=lambda q: q.geom.bounds[2])
        x0, y0, _, y1 = bd.geom.bounds
        bd.geom = box(x0, y0, edge_x + 6.0, y1)
    # overlapping footprints: an annex over a corner, and on one parcel a twice-digitised building
    for k, i in enumerate(parcels.index[role == "OVERLAP"]):
        mine = [bd for bd in bldgs if bd.pid == pid_of[i]]
        bd = mine[0]
        x0, y0, x1, y1 = bd.geom.bounds
        if k == 0:
            dup = shapely.affinity.translate(bd.geom, 1.5, 1.0)
            bldgs.append(Bldg(bd.pid, dup, bd.floors, bd.storey_m))
        else:
            bldgs.append(Bldg(bd.pid, box(x1 - 6.0, y1 - 8.0, x1 + 12.0, y1 + 6.0), 1, 4.5))

    # storey height / height columns: 层高 on most, 高度 on some, 高度 only on a few
    for bd in bldgs:
        u = rng.random()
        if u < 0.10:
            bd.given_storey, bd.given_height = False, True
        elif u < 0.35:
            bd.given_height = True
    # the edge case: a single-storey workshop exactly 8 m high (not > 8 m: counts once)
    role_of_pid = dict(zip(parcels["pid"], parcels["role"], strict=True))
    old_single = [bd for bd in bldgs
                  if role_of_pid[bd.pid] == "OLD" and bd.floors == 1 and bd.storey_m < 8]
    edge = old_single[0]
    edge.storey_m, edge.given_storey, edge.given_height = 8.0, True, False
    exact8_pid = edge.pid

    # ---------------------------------------------------------------- measures (local metres)
    bg = np.array([bd.geom for bd in bldgs], dtype=object)
    b_floors = np.array([bd.floors for bd in bldgs])
    b_st = np.array([bd.storey_m for bd in bldgs])
    b_factor = np.where(b_st > 8, 2, 1) * b_floors
    # clip each building to every parcel it touches
    tree = shapely.STRtree(parcels["geometry"].to_numpy())
    bi, pi = tree.query(bg, predicate="intersects")
    inter = shapely.area(shapely.intersection(bg[bi], parcels["geometry"].to_numpy()[pi]))
    clip = pd.DataFrame({"pid": parcels["pid"].to_numpy()[pi], "fp": inter,
                         "fl": b_floors[bi] * inter, "far": b_factor[bi] * inter})
    per = clip.groupby("pid")[["fp", "fl", "far"]].sum()
    parcels = parcels.join(per, on="pid").fillna({"fp": 0.0, "fl": 0.0, "far": 0.0})
    parcels["FAR"] = parcels["far"] / parcels["area_m2"]
    parcels["density"] = parcels["fp"] / parcels["area_m2"]
    parcels["mu"] = parcels["area_m2"] / M2_PER_MU

    # ---------------------------------------------------------------- holders, supply years
    region_for = {True: COUNTY_CODE, False: "430400"}
    holder_uscc = pd.Series("", index=parcels.index, dtype=object)
    holder_name = pd.Series("", index=parcels.index, dtype=object)
    supply_year = pd.Series(0, index=parcels.index, dtype=int)
    platform_uscc = make_uscc(rng, COUNTY_CODE, True)
    platform_name = "衡山高新区标准厂房建设开发有限公司"
    for i, p in parcels.iterrows():
        r = p["role"]
        if r == "UNSUPPLIED":
            continue
        if r in ("STANDARD_FACTORY", "STANDARD_FACTORY_VACANT"):
            holder_uscc[i], holder_name[i] = platform_uscc, platform_name
            continue
        new = r in crole or r == "NEW_NORMAL"
        holder_uscc[i] = make_uscc(rng, region_for[bool(rng.random() < 0.8)], new)
        if r == "UTILITY_WATER":
            holder_name[i] = names.make("自来水", "衡山县", "有限公司")
        elif r == "UTILITY_SEWAGE":
            holder_name[i] = names.make("水务环保", "衡山县", "有限公司")
        elif r == "UTILITY_POWER":
            holder_name[i] = names.make("热电", "衡山", "有限公司")
        elif r == "WAREHOUSE":
            holder_name[i] = names.make("物流")
        elif r == "COMMERCIAL":
            holder_name[i] = names.make({"6110": "酒店管理", "6210": "餐饮管理",
                                         "5261": "汽车销售服务"}[p["industry"]])
        else:
            holder_name[i] = names.make(INDUSTRY[p["industry"]][0])
    # one firm on two adjacent parcels per pair (same holder), and the far pair
    for a, b in [*multi_pairs, tuple(far_pair)]:
        holder_uscc[b], holder_name[b] = holder_uscc[a], holder_name[a]
        parcels.at[b, "industry"] = parcels.at[a, "industry"]
    # the one code with a bad check character (real ledgers have some: warn, do not reject)
    bad_i = int(parcels.index[role == "BAD_USCC"][0])
    good = holder_uscc[bad_i]
    wrong = USCC_CHARS[(USCC_VALUE[good[17]] + 7) % 31]
    holder_uscc[bad_i] = good[:17] + wrong
    bad_uscc = holder_uscc[bad_i]
    for i, p in parcels.iterrows():
        r = p["role"]
        if r == "UNSUPPLIED":
            continue
        if r in crole:
            supply_year[i] = crole[r].signed.year
        elif r == "STANDARD_FACTORY":
            supply_year[i] = 2019
        elif r == "STANDARD_FACTORY_VACANT":
            supply_year[i] = 2022
        elif r == "NEW_NORMAL":
            supply_year[i] = int(rng.integers(2019, 2021))
        else:
            supply_year[i] = int(rng.integers(2004, 2017))
    parcels["holder_uscc"], parcels["holder_name"] = holder_uscc, holder_name
    parcels["supply_year"] = supply_year

    # supervision numbers: from 2009 on (pre-2009 old plots have none)
    sup = pd.Series("", index=parcels.index, dtype=object)
    serial = 10
    for i in parcels.sort_values(["supply_year", "pid"]).index:
        y = int(parcels.at[i, "supply_year"])
        if y >= 2009:
            serial += int(rng.integers(1, 9))
            sup[i] = supervision_no(y, serial)
    parcels["sup"] = sup

    # recorded area: within +-0.6 %, except four off by 1.5-4 %
    noise = np.clip(rng.normal(0.0, 0.002, size=n), -0.006, 0.006)
    off_idx = [int(i) for i in rng.choice(
        parcels.index[(role == "OLD")], size=4, replace=False)]
    noise[off_idx] = np.array([0.018, -0.025, 0.041, -0.015])
    parcels["recorded_m2"] = np.round(parcels["area_m2"] * (1 + noise), 2)

    # ---------------------------------------------------------------- contracts
    contracts = []
    std_contract = {}
    for i in parcels.index[role.isin(["STANDARD_FACTORY", "STANDARD_FACTORY_VACANT"])]:
        if role[i] == "STANDARD_FACTORY":
            signed = rand_date(rng, D("2019-03-01"), D("2019-12-20"))
            comp = rand_date(rng, D("2021-03-01"), D("2021-12-20"))
        else:
            signed, comp = D("2022-03-08"), D("2024-11-30")
        start = signed + timedelta(days=182)
        std_contract[i] = Contract(signed, start, comp + timedelta(days=30),
                                   start + timedelta(days=10), comp, invest_frac=1.0, far_min=1.2)
    normal_contract = {}
    for i in parcels.index[role == "NEW_NORMAL"]:
        signed = rand_date(rng, D(f"{supply_year[i]}-01-05"), D(f"{supply_year[i]}-10-28"))
        start = signed + timedelta(days=183)
        comp = start + timedelta(days=730)
        a_start = start + timedelta(days=int(rng.integers(-10, 45)))
        a_comp = comp - timedelta(days=int(rng.integers(0, 90)))
        ct = float(rng.choice([15.0, 15.0, 20.0])) if rng.random() < 0.7 else None
        co = float(rng.choice([300.0, 350.0, 400.0])) if ct else None
        normal_contract[i] = Contract(
            signed, start, comp, a_start, a_comp, invest_frac=float(rng.uniform(1.0, 1.15)),
            committed_tax=ct, committed_output=co, far_min=float(rng.choice([0.8, 1.0, 1.0])))
    all_contract: dict[int, Contract] = {}
    for i in parcels.index:
        r = role[i]
        if r in crole:
            all_contract[i] = crole[r]
        elif i in std_contract:
            all_contract[i] = std_contract[i]
        elif i in normal_contract:
            all_contract[i] = normal_contract[i]
    for i in sorted(all_contract, key=lambda i: parcels.at[i, "pid"]):
        c = all_contract[i]
        mu = parcels.at[i, "mu"]
        area = parcels.at[i, "area_m2"]
        total = round(mu * float(rng.uniform(260, 340)) / 10) * 10  # 投资强度 260-340 万元/亩
        price = round(mu * float(rng.uniform(9.6, 13.5)), 2)  # 工业用地 9.6-13.5 万元/亩
        done = round(total * c.invest_frac, 1)
        far_max = c.far_min + float(rng.choice([1.0, 1.5, 2.0]))
        dev = round(area * c.developed_frac, 1) if c.developed_frac is not None else None
        if c.developed_frac is None and c.actual_completion is not None:
            dev = round(area, 1)
        yard = round(area * c.yard_frac, 1) if c.yard_frac is not None else None
        contracts.append({
            "电子监管号": parcels.at[i, "sup"],
            "宗地编号": parcels.at[i, "pid"],
            "合同签订日期": fmt_date(c.signed, rng),
            "约定开工时间": fmt_date(c.start, rng),
            "约定竣工时间": fmt_date(c.completion, rng),
            "实际开工时间": fmt_date(c.actual_start, rng),
            "实际竣工时间": fmt_date(c.actual_completion, rng),
            "容积率下限": fmt_num(c.far_min, 1),
            "容积率上限": fmt_num(far_max, 1),
            "约定投资总额(万元)": fmt_num(float(total), 0),
            "已完成投资(万元)": fmt_num(done, 1),
            "成交价格(万元)": fmt_num(price) if c.price else "",
            "停工日期": fmt_date(c.suspended, rng),
            "已开发面积(平方米)": fmt_num(dev, 1),
            "政府原因": c.gov,
            "承诺亩均税收(万元/亩)": fmt_num(c.committed_tax, 1),
            "承诺亩均产值(万元/亩)": fmt_num(c.committed_output, 1),
            "构筑物及堆场面积(平方米)": fmt_num(yard, 1),
        })
    contracts_df = pd.DataFrame(contracts)
    # one contract row as 中国土地市场网 gives it: keyed by 电子监管号 only
    no_pid_row = int(contracts_df.index[contracts_df["宗地编号"] == parcels.loc[
        role == "FUTURE_START_B", "pid"].iloc[0]][0])
    contracts_df.loc[no_pid_row, "宗地编号"] = ""

    # ---------------------------------------------------------------- enterprises
    firms: list[dict] = []
    by_holder: dict[str, list[int]] = {}
    for i in parcels.index:
        if holder_uscc[i]:
            by_holder.setdefault(holder_uscc[i], []).append(int(i))
    no_firm_roles = {"UNSUPPLIED", "IDLE_SUSPECTED", "VACANT_BUILDING", "STANDARD_FACTORY",
                     "STANDARD_FACTORY_VACANT"}
    explicit_pids_firms = {holder_uscc[a] for a, _ in multi_pairs}
    for u, idxs in by_holder.items():
        r = role[idxs[0]]
        if r in no_firm_roles or (r in crole and crole[r].prod is None):
            continue
        i0 = idxs[0]
        pid_field = ""
        if u in explicit_pids_firms:
            sep = "、" if len(firms) % 2 else "；"
            pid_field = sep.join(parcels.loc[idxs, "pid"])
        elif rng.random() < 0.06:  # some holders fill in their own parcel anyway
            pid_field = parcels.at[i0, "pid"]
        if r in crole:
            prod = crole[r].prod
        elif r == "NEW_NORMAL":
            prod = all_contract[i0].actual_completion + timedelta(days=int(rng.integers(20, 90)))
        else:
            y0 = int(supply_year[i0])
            prod = rand_date(rng, D(f"{y0 + 1}-01-01"), D(f"{y0 + 2}-12-31"))
        firms.append({
            "uscc": u, "name": holder_name[i0], "role": r, "pids": idxs, "pid_field": pid_field,
            "rented": None, "land_m2": float(parcels.loc[idxs, "area_m2"].sum()),
            "industry": parcels.at[i0, "industry"], "prod": prod,
        })
    # tenants of the leased standard factories
    tenant_codes = ["3982", "3911", "3821", "3841", "3399", "2929", "39", "1819", "3982", "3911"]
    tenant_rows = []
    class_t_tenant_done = False
    for i in parcels.index[role == "STANDARD_FACTORY"]:
        floor_area = parcels.at[i, "fl"]
        k = int(rng.integers(3, 8))
        shares = rng.dirichlet(np.full(k, 3.0)) * float(rng.uniform(0.72, 0.92))
        for s in shares:
            code = tenant_codes[int(rng.integers(len(tenant_codes)))]
            rented = round(float(s * floor_area) / 10) * 10
            prod = rand_date(rng, D("2021-06-01"), D("2023-05-31"))
            if not class_t_tenant_done:
                prod, class_t_tenant_done = D("2024-05-10"), True
            f = {
                "uscc": make_uscc(rng, COUNTY_CODE, True), "name": names.make(INDUSTRY[code][0]),
                "role": "TENANT", "pids": [int(i)], "pid_field": parcels.at[i, "pid"],
                "rented": float(rented), "land_m2": parcels.at[i, "area_m2"] * rented / floor_area,
                "industry": code, "prod": prod,
            }
            firms.append(f)
            tenant_rows.append(f)
    parcels = parcels.assign(role=role)

    # ---- 2024 tax per firm: fixed groups, then old plots scaled so the park averages 12.7 万元/亩
    fixed_per_mu = {
        "WAREHOUSE": (5.0, 0.3), "COMMERCIAL": (9.0, 0.3), "UTILITY_WATER": (2.0, 0.1),
        "UTILITY_SEWAGE": (0.8, 0.1), "UTILITY_POWER": (14.0, 0.1), "TENANT": (16.0, 0.5),
        "NEW_NORMAL": (24.0, 0.25),
    }
    for f in firms:
        r = f["role"]
        mu = f["land_m2"] / M2_PER_MU
        f["mu"] = mu
        f["scaled"] = False
        if r in crole:
            fixed = crole[r].tax_per_mu
            c = all_contract[f["pids"][0]]
            base = fixed if fixed is not None else max(
                float(rng.lognormal(math.log(22.0), 0.2)), 1.3 * (c.committed_tax or 0))
            f["tax_mu"] = base
        elif r in fixed_per_mu:
            med, sd = fixed_per_mu[r]
            f["tax_mu"] = float(rng.lognormal(math.log(med), sd))
            if r == "NEW_NORMAL":
                c = all_contract[f["pids"][0]]
                f["tax_mu"] = max(f["tax_mu"], 1.3 * (c.committed_tax or 0))
        elif r == "SMALL_OLD":
            f["tax_mu"] = float(rng.lognormal(math.log(6.0), 0.35))
        elif r == "GRADE_DD":
            f["tax_mu"] = 1.6
        elif r in ("STOPPED_2024", "ZOMBIE", "TAX_REFUND"):
            f["tax_mu"] = 0.0
        else:
            f["tax_mu"] = float(rng.lognormal(math.log(11.0), 0.55))
            f["scaled"] = True
    fixed_tax = {"STOPPED_2024": [0.0, 0.0], "ZOMBIE": [0.0, -1.2], "TAX_REFUND": [-38.6]}
    special = [f for f in firms if f["role"] in fixed_tax]
    for r, vals in fixed_tax.items():
        for k, f in enumerate([g for g in special if g["role"] == r]):
            f["tax_fixed"] = vals[k]
    # park land = parcels with at least one firm (holders or tenants)
    park_pids = sorted({int(i) for f in firms for i in f["pids"]})
    park_mu = float(parcels.loc[park_pids, "mu"].sum())
    fixed_sum = sum(f.get("tax_fixed", 0.0) for f in special) + sum(
        round(f["tax_mu"] * f["mu"], 2) for f in firms if not f["scaled"] and "tax_fixed" not in f)
    raw = sum(f["tax_mu"] * f["mu"] for f in firms if f["scaled"])
    scale = (TARGET_TAX_WAN_PER_MU * park_mu - fixed_sum) / raw
    for f in firms:
        if "tax_fixed" in f:
            f["tax24"] = f["tax_fixed"]
        else:
            f["tax24"] = round(f["tax_mu"] * f["mu"] * (scale if f["scaled"] else 1.0), 2)

    # ---- the other figures, both years
    ent_rows = []
    dd_roles = {"ZOMBIE", "GRADE_DD"}
    grades = ["A", "B", "B", "C", "C"]
    for f in firms:
        r = f["role"]
        code = f["industry"]
        is_utility = code[:2] in ("44", "45", "46")
        years = [y for y in (2023, 2024) if f["prod"] is not None and f["prod"].year <= y]
        growth = float(rng.normal(1.06, 0.08))
        hist24 = ""
        if r in dd_roles:
            hist24 = "2022:D;2023:D"
        elif not is_utility and f["prod"] < D("2022-01-01") and rng.random() < 0.5:
            hist24 = f"2022:{grades[int(rng.integers(5))]};2023:{grades[int(rng.integers(5))]}"
        small = r == "SMALL_OLD"
        tax_rate = float(rng.uniform(0.055, 0.085) if small else rng.uniform(0.03, 0.07))
        c = all_contract.get(f["pids"][0])
        if r == "BELOW_COMMITMENT_OUTPUT":
            tax_rate = 0.06  # 18 万元/亩 tax -> about 300 万元/亩 output, below the 500 promised
        elif r == "BELOW_COMMITMENT_TAX":
            tax_rate = 0.015  # low tax, output still above the 400 promised
        elif c is not None and c.committed_output:
            tax_rate = min(tax_rate, f["tax24"] / f["mu"] / (1.25 * c.committed_output))
        manufacturing = 13 <= int(code[:2]) <= 46  # 制造业 and utilities report industrial output
        prod_txt = fmt_date(f["prod"], rng)
        for y in years:
            t = f["tax24"] if y == 2024 else round(f["tax24"] / growth, 2)
            stopped = (r == "ZOMBIE") or (r == "STOPPED_2024" and y == 2024)
            if r == "TAX_REFUND" and y == 2023:
                t = round(f["mu"] * 6.5, 2)
            if r == "STOPPED_2024" and y == 2023:
                t = round(f["mu"] * 4.0, 2)
            if r == "ZOMBIE":
                t = fixed_tax["ZOMBIE"][[g for g in special if g["role"] == "ZOMBIE"].index(f)]
            if stopped:
                rev = round(float(rng.uniform(0, 40)), 2)
                out_v = round(rev * 0.8, 2)
                va = round(out_v * 0.2, 2)
                energy = round(float(rng.uniform(0.5, 1.2)), 2)
                elec = int(rng.integers(1500, 9500))
                emis = None
                rd = None
                emp = int(rng.integers(0, 6))
            else:
                base_tax = t if t > 0 else f["mu"] * 6.0  # a refund year still has business
                rev = round(base_tax / tax_rate, 2)
                out_v = round(rev * float(rng.uniform(0.9, 1.05)), 2)
                va = round(out_v * float(rng.uniform(0.2, 0.32)), 2)
                energy = round(va / float(rng.lognormal(math.log(2.7), 0.5)), 2)
                elec = int(round(energy * 8137 * float(rng.uniform(0.35, 0.85)), -2))
                emis = round(va / float(rng.lognormal(math.log(4900), 0.7)), 3)
                rd = round(rev * float(rng.lognormal(math.log(0.022), 0.6)), 2)
                if not manufacturing:
                    emis, rd = None, None
                emp = max(5, int(round(va / float(rng.lognormal(math.log(18.0), 0.35)))))
            above = rev >= 2000
            if not above:
                emis = None
                rd = rd if rng.random() < 0.3 else None
            elif rng.random() < 0.15:
                emis = None
            hist = hist24 if y == 2024 else hist24.split(";")[0] if hist24 else ""
            ent_rows.append({
                "统一社会信用代码": f["uscc"],
                "企业名称": f["name"],
                "年度": y,
                "所在宗地编号": f["pid_field"],
                "租用建筑面积(平方米)": fmt_num(f["rented"], 0),
                "实缴税金(万元)": fmt_num(t),
                "营业收入(万元)": fmt_num(rev),
                "工业总产值(万元)": fmt_num(out_v) if manufacturing else "",
                "工业增加值(万元)": fmt_num(va) if manufacturing else "",
                "综合能耗(吨标准煤)": fmt_num(energy),
                "用电量(千瓦时)": str(elec),
                "排放量(吨)": fmt_num(emis, 3),
                "研发经费(万元)": fmt_num(rd),
                "从业人员(人)": str(emp),
                "规上": "是" if above else "否",
                "投产时间": prod_txt,
                "行业代码": code,
                "评价等级": hist,
            })
    ent_df = pd.DataFrame(ent_rows).sort_values(["统一社会信用代码", "年度"], kind="stable")

    # ---------------------------------------------------------------- write
    out.mkdir(parents=True, exist_ok=True)
    xs, ys = _offsets(COL_W, ROAD_AFTER_COL), _offsets(ROW_H, ROAD_AFTER_ROW)
    centre = ((xs[-1] + COL_W[-1]) / 2, (ys[-1] + ROW_H[-1]) / 2)
    pgdf = gpd.GeoDataFrame({
        "宗地编号": parcels["pid"],
        "电子监管号": parcels["sup"],
        "权利人统一社会信用代码": parcels["holder_uscc"],
        "土地使用权人": parcels["holder_name"],
        "土地用途": parcels["land_use"],
        "行业代码": parcels["industry"].where(parcels["role"] != "UNSUPPLIED", ""),
        "宗地面积": parcels["recorded_m2"],
    }, geometry=to_store(list(parcels["geometry"]), centre).values, crs=STORE_EPSG)
    pgdf = pgdf.replace({"": None})
    b_sorted = sorted(range(len(bldgs)), key=lambda k: (bldgs[k].pid, bldgs[k].geom.centroid.x))
    blist = [bldgs[k] for k in b_sorted]
    height = [round(bd.floors * bd.storey_m + (0.6 if bd.floors > 1 else 0.3), 1)
              if bd.given_height else np.nan for bd in blist]
    bgdf = gpd.GeoDataFrame({
        "建筑编号": [f"JZ{k + 1:04d}" for k in range(len(blist))],
        "层数": np.array([bd.floors for bd in blist], dtype="int32"),
        "层高": [bd.storey_m if bd.given_storey else np.nan for bd in blist],
        "高度": height,
    }, geometry=to_store([bd.geom for bd in blist], centre).values, crs=STORE_EPSG)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2025-06-30T00:00:00Z"})
    for path, gdf, layer in ((out / "parcels.gpkg", pgdf, "parcels"),
                             (out / "buildings.gpkg", bgdf, "buildings")):
        if path.exists():
            path.unlink()
        gdf.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
    ent_df.to_csv(out / "enterprises.csv", index=False, encoding="utf-8-sig", lineterminator="\n")
    contracts_df.to_csv(out / "contracts.csv", index=False, encoding="utf-8-sig",
                        lineterminator="\n")
    (out / "demo.toml").write_text(
        'name = "衡山示范园区 (synthetic demo park)"\n'
        f"as_of = {AS_OF.isoformat()}\n"
        f"year = {YEAR}\n"
        'note = "SYNTHETIC data generated by scripts/make_demo.py (seed '
        f'{SEED}); not a real park, firms or parcels."\n',
        encoding="utf-8",
    )

    # ---------------------------------------------------------------- summary and cases
    tax24 = sum(f["tax24"] for f in firms if f["prod"].year <= 2024)
    summary = {
        "parcels": n, "buildings": len(blist), "enterprises": len(firms),
        "enterprise_rows": len(ent_df), "contracts": len(contracts_df),
        "park_mu": park_mu, "park_tax_wan": tax24, "tax_wan_per_mu": tax24 / park_mu,
    }
    # old plots: industrial land without a contract row (the test uses the same definition)
    old_mask = (parcels["land_use"] == "工业用地") & ~parcels.index.isin(list(all_contract))
    old_dev = parcels[old_mask & (parcels["fp"] > 0)]
    std_p = parcels[parcels["role"].isin(["STANDARD_FACTORY", "STANDARD_FACTORY_VACANT"])]
    summary["old_far"] = float(old_dev["far"].sum() / old_dev["area_m2"].sum())
    summary["old_far_mean"] = float(old_dev["FAR"].mean())
    summary["standard_far_min"] = float(std_p["FAR"].min())
    summary["standard_far"] = float(std_p["far"].sum() / std_p["area_m2"].sum())
    above = ent_df[ent_df["年度"] == 2024]["规上"]
    summary["above_scale_2024"] = int((above == "是").sum())
    summary["below_scale_2024"] = int((above == "否").sum())

    def r_(*names: str) -> str:
        return ", ".join(parcels.loc[parcels["role"].isin(names), "pid"])

    def pid_of_firm(f: dict) -> str:
        return f["pid_field"] or parcels.at[f["pids"][0], "pid"]

    rows24 = {(row["统一社会信用代码"], row["年度"]): row for row in ent_rows}
    below3 = [f for f in firms if f["role"] != "TENANT" and f["mu"] >= 3
              and rows24.get((f["uscc"], 2024), {}).get("规上") == "否"]
    multi_tenant = [parcels.at[i, "pid"] for i in parcels.index[role == "STANDARD_FACTORY"]]
    n_tenants = {p: sum(1 for f in tenant_rows if f["pid_field"] == p) for p in multi_tenant}
    typical_old = parcels[old_mask & (parcels["role"] == "OLD") & (parcels["fp"] > 0)].head(3)
    low_far = parcels.loc[role == "LOW_FAR_CONTRACT", "FAR"].iloc[0]
    t_new = [f for f in firms if f["prod"] > D("2023-06-30")]
    a_ = "约定开工"
    cases = {
        "IDLE_NOT_STARTED, stage fee, with 成交价格": r_("IDLE_FEE_PRICE") + f" ({a_} 2023-11-20)",
        "IDLE_NOT_STARTED, stage fee, no 成交价格 (leap day)":
            r_("IDLE_FEE_NOPRICE_LEAPDAY") + f" ({a_} 2024-02-29; one year ends 2025-02-28)",
        "IDLE_NOT_STARTED, exactly 1 year on as_of (fee)":
            r_("IDLE_EXACT_1Y") + f" ({a_} 2024-06-30)",
        "IDLE_NOT_STARTED, exactly 2 years on as_of (reclaim)":
            r_("IDLE_EXACT_2Y") + f" ({a_} 2023-06-30)",
        "IDLE_NOT_STARTED, stage reclaim, with 成交价格":
            r_("IDLE_RECLAIM_PRICE") + f" ({a_} 2022-09-15)",
        "IDLE_NOT_STARTED, stage reclaim, no 成交价格":
            r_("IDLE_RECLAIM_NOPRICE") + f" ({a_} 2021-05-10)",
        "IDLE_NOT_STARTED + GOV_CAUSE (article 8, 政府原因 = 是)":
            r_("IDLE_GOV_CAUSE") + f" ({a_} 2022-12-01)",
        "IDLE_STALLED, fee (已开发 20 %, 投资 18 %, 停工 2023-08-01)": r_("STALLED_FEE"),
        "IDLE_STALLED, reclaim (已开发 30 %, 停工 2022-03-01)": r_("STALLED_RECLAIM"),
        "suspended < 1 year: not idle yet (停工 2024-12-20)": r_("SUSPENDED_RECENT"),
        "IDLE_SUSPECTED (holder, no contract, no buildings)": r_("IDLE_SUSPECTED"),
        f"OVERDUE_START ({a_} 2025-01-15)": r_("OVERDUE_START"),
        f"OVERDUE_START, one day short of a year ({a_} 2024-07-01)": r_("OVERDUE_START_EDGE"),
        "OVERDUE_COMPLETION (约定竣工 2024-12-31)": r_("OVERDUE_COMPLETION"),
        "OVERDUE_COMPLETION > 2 years late, 低效 (约定竣工 2022-10-30)":
            r_("OVERDUE_COMPLETION_2Y"),
        "also past 约定竣工, never started or stalled":
            r_("IDLE_RECLAIM_PRICE", "IDLE_RECLAIM_NOPRICE", "IDLE_GOV_CAUSE", "STALLED_FEE",
               "STALLED_RECLAIM"),
        "INVESTMENT_SHORTFALL (70 %)": r_("INVESTMENT_SHORTFALL"),
        "INVESTMENT_SHORTFALL < 50 %, 低效 (42 %, completed 2022-08-15)":
            r_("INVESTMENT_SHORTFALL_50"),
        "BELOW_COMMITMENT, tax (承诺 20, actual 8.5 万元/亩)": r_("BELOW_COMMITMENT_TAX"),
        "BELOW_COMMITMENT, output (承诺产值 500 万元/亩)": r_("BELOW_COMMITMENT_OUTPUT"),
        "LOW_FAR below 容积率下限 1.0": r_("LOW_FAR_CONTRACT") + f" (FAR {low_far:.2f})",
        "LOW_FAR below the industry minimum (old plots, no contract)":
            ", ".join(f"{p} (行业 {c}, FAR {v:.2f})" for p, c, v in zip(
                typical_old["pid"], typical_old["industry"], typical_old["FAR"], strict=True))
            + " and most old plots",
        "LOW_COVERAGE with 构筑物及堆场面积 (建筑系数 < 30 %)": r_("LOW_COVERAGE_YARD"),
        "density < 30 % but 建筑系数 >= 30 % (yards given): no LOW_COVERAGE":
            r_("COVERAGE_YARD_OK"),
        "LOW_COVERAGE, density only (proxy)": r_("LOW_DENSITY"),
        "STOPPED in 2024 only (tax 0, 用电 < 10,000 kWh)": r_("STOPPED_2024"),
        "ZOMBIE (stopped in 2023 and 2024)": r_("ZOMBIE"),
        "tax refund (实缴税金 -38.60 万元 in 2024, not stopped)": r_("TAX_REFUND"),
        "GRADE history 2022:D;2023:D (consecutive D)": r_("ZOMBIE", "GRADE_DD"),
        "VACANT_BUILDING (buildings, no enterprise)":
            r_("VACANT_BUILDING", "STANDARD_FACTORY_VACANT"),
        "UNDEVELOPED_REMAINDER (large parcel, one side built)":
            r_("REMAINDER_OLD", "REMAINDER_NEW"),
        "UNDEVELOPED_REMAINDER, all pieces >= 5 亩 (10 m margin, 15 m inward buffer)":
            ", ".join(f"{p_} ({mu_:.1f} 亩)" for p_, mu_ in remainders(parcels, bldgs)),
        "class T: utility (44xx/46xx)": r_("UTILITY_POWER", "UTILITY_WATER", "UTILITY_SEWAGE"),
        "class T: production < 2 years before as_of":
            "; ".join(f"{f['name']} on {pid_of_firm(f)} (投产 {f['prod']})" for f in t_new),
        "工业上楼 standard factories (4-6 storeys, FAR >= 1.37), multi-tenant":
            ", ".join(f"{p} ({n_tenants[p]} tenants)" for p in multi_tenant),
        "工业上楼 standard factory, completed 2024-11-30, no tenants yet":
            r_("STANDARD_FACTORY_VACANT"),
        "enterprise on several parcels, 所在宗地编号 lists them":
            "; ".join(f"{pid_of[a]}+{pid_of[b]}" for a, b in multi_pairs),
        "enterprise on several parcels, linked by holder code only":
            "+".join(parcels.loc[far_pair, "pid"]),
        "building straddling two parcels":
            "; ".join(f"{pid_of[a]}/{pid_of[b]}" for a, b in straddle_pairs),
        "overlapping footprints (first one digitised twice)": r_("OVERLAP"),
        "a single-storey workshop exactly 8.0 m high (counts once)": exact8_pid,
        "宗地面积 off the measured area by more than 1 %": ", ".join(parcels.loc[off_idx, "pid"]),
        "规下 firms on >= 3 亩": ", ".join(sorted(pid_of_firm(f) for f in below3)[:8]) + ", ...",
        "USCC with a bad check character (warn, not reject)": f"{r_('BAD_USCC')} ({bad_uscc})",
        "contract row with 电子监管号 only (no 宗地编号)":
            f"{r_('FUTURE_START_B')} ({contracts_df.at[no_pid_row, '电子监管号']})",
        "unsupplied (no holder, no contract)": r_("UNSUPPLIED"),
        "contracts not yet due to start (no finding)": r_("FUTURE_START_A", "FUTURE_START_B"),
        "under construction, on schedule (no finding)":
            r_("UNDER_CONSTRUCTION_A", "UNDER_CONSTRUCTION_B"),
    }
    uses = parcels["land_use"].value_counts().to_dict()
    write_readme(out, summary, cases, uses)
    summary["cases"] = len(cases)
    return summary


def remainders(parcels: pd.DataFrame, bldgs: list[Bldg], margin_m: float = 10.0,
               inward_m: float = 15.0, min_mu: float = 5.0) -> list[tuple[str, float]]:
    """Return (parcel id, 亩) of each undeveloped piece by the rule of issue 3, for the README."""
    out = []
    for pid, geom in zip(parcels["pid"], parcels["geometry"], strict=True):
        mine = [bd.geom for bd in bldgs if bd.geom.intersects(geom)]
        if not mine:
            continue
        left = geom.difference(shapely.union_all([g.buffer(margin_m) for g in mine]))
        for piece in getattr(left, "geoms", [left]):
            if piece.area >= min_mu * M2_PER_MU and not piece.buffer(-inward_m).is_empty:
                out.append((pid, piece.area / M2_PER_MU))
    return out


README_HEAD = """\
# Demo park: SYNTHETIC DATA

**Everything in this folder is synthetic.** The parcels, buildings, firms, credit
codes, names and contracts are invented by `scripts/make_demo.py`; any likeness to a
real firm is chance. The park is placed near Hengshan county, Hunan (about 112.87E,
27.23N) and modelled on the figures published for 衡山高新区 (亩均税收 12.7
万元/亩; FAR 0.5 on the old plots, 1.37 after 工业上楼).

Regenerate (deterministic: fixed seed, one numpy `Generator`):

```
.venv/bin/python scripts/make_demo.py            # writes data/parcels/
.venv/bin/python scripts/make_demo.py --out DIR  # writes DIR/
```
"""

README_HOW = """\
## How it was generated

- Geometry is built in metres in CGCS2000 / 3-degree GK CM 114E (EPSG:4547, the zone
  of 112.87E: 3 x round(112.87 / 3) = 114), on a grid of 6 x 4 blocks along 30-50 m
  roads, rotated 8 degrees, with 10 m corner cuts at the crossings. A river cuts the
  south-west corner and a hill the north-west one, so the parcels there are
  irregular. Each block has two rows of parcels. Stored in EPSG:4490.
- Old plots (supplied 2004-2016, no contract row) carry mostly single-storey
  workshops, some of 2-3 storeys and a few halls with 层高 9-12 m (counted twice for
  FAR). The 工业上楼 block has 4-6 storey standard factories held by a park platform
  company (no enterprise rows of its own) and rented to tenants, whose rows give
  所在宗地编号 and 租用建筑面积. The east zone holds the plots supplied 2019-2024.
- 宗地面积 is the measured area with noise under 0.6 %, except four parcels (CASES).
- Firm figures: 2024 tax per 亩 is drawn per group, then the ordinary old plots are
  scaled so that the park's 亩均税收 (Σ tax ÷ Σ 亩 of the parcels with a firm) is 12.7
  万元/亩. Revenue, output, value added, energy, electricity, emissions, R&D and
  employees follow from tax through random ratios; 规上 = revenue >= 2000 万元;
  2023 = 2024 ÷ growth. Non-industrial firms (仓储, 商服) leave 工业总产值 and
  工业增加值 empty.
- Credit codes follow GB 32100-2015 (with a GB 11714 organisation code inside);
  exactly one has a bad check character.
- FAR = floor area counted (a storey over 8 m counts twice; storey height from 层高,
  else 高度 ÷ 层数) ÷ parcel area, buildings clipped to the parcel.
"""


def write_readme(out: Path, s: dict, cases: dict[str, str], uses: dict) -> None:
    """Write data/parcels/README.md: SYNTHETIC banner, how it was made, and the CASES table."""
    use_txt = ", ".join(f"{k} {v}" for k, v in sorted(uses.items(), key=lambda kv: -kv[1]))
    files = [
        ("`parcels.gpkg` (layer `parcels`)",
         f"{s['parcels']} parcels, EPSG:4490: 宗地编号, 电子监管号, 权利人统一社会信用代码, "
         "土地使用权人, 土地用途, 行业代码 (GB/T 4754-2017), 宗地面积 (m²)"),
        ("`buildings.gpkg` (layer `buildings`)",
         f"{s['buildings']} footprints, EPSG:4490: 建筑编号, 层数, 层高 (m; empty on some), "
         "高度 (m; on some)"),
        ("`enterprises.csv`",
         f"{s['enterprise_rows']} rows, {s['enterprises']} firms, years 2023 and 2024 "
         "(UTF-8 with BOM; units in the headers)"),
        ("`contracts.csv`",
         f"{s['contracts']} land contracts (signed 2019-2024; dates in ISO and Chinese "
         "forms; UTF-8 with BOM)"),
        ("`demo.toml`", "name, `as_of = 2025-06-30`, `year = 2024`, note"),
    ]
    figures = [
        ("亩均税收 2024 (Σ tax ÷ Σ 亩 of the parcels with firms)",
         f"{s['tax_wan_per_mu']:.2f} 万元/亩 ({s['park_tax_wan']:.2f} 万元 over "
         f"{s['park_mu']:.1f} 亩)"),
        ("FAR of the developed old plots (Σ ÷ Σ; mean of plots)",
         f"{s['old_far']:.3f}; {s['old_far_mean']:.3f}"),
        ("FAR of the 工业上楼 plots (Σ ÷ Σ; lowest plot)",
         f"{s['standard_far']:.2f}; {s['standard_far_min']:.2f}"),
        ("firms 规上 / 规下 in 2024", f"{s['above_scale_2024']} / {s['below_scale_2024']}"),
        ("land use", use_txt),
    ]
    lines = [README_HEAD, "## Files", "", "| file | content |", "|---|---|"]
    lines += [f"| {a} | {b} |" for a, b in files]
    lines += ["", README_HOW, "## Headline figures (measured in EPSG:4547 by the generator)", "",
              "| figure | value |", "|---|---|"]
    lines += [f"| {a} | {b} |" for a, b in figures]
    lines += ["", "## CASES", "",
              "Evaluated as of 2025-06-30 for the year 2024. Parcel ids show where each case sits.",
              "", "| case | parcels |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in cases.items()]
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT_DEFAULT,
                    help="output folder (default data/parcels)")
    args = ap.parse_args()
    s = generate(args.out)
    size = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    for k, v in s.items():
        print(f"{k:>18}: {v:.3f}" if isinstance(v, float) else f"{k:>18}: {v}")
    print(f"{'bytes':>18}: {size}")


if __name__ == "__main__":
    main()
