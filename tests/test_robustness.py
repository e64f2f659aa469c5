"""The bad-input corpus: real-world files as parks hand them in, each built here in code.

Every case states the warning (or error, or rejection) it must produce, and, where it runs through
``landeff.evaluate``, that every input row is accounted for: rows in = rows used + rows rejected,
and every parcel is in the output exactly once.

Geometry is built in EPSG:4549 (CGCS2000 / 3-degree GK CM 120E) on the central meridian, where the
scale factor is 1, so a 100 m x 100 m box measures 10000 m² (15 亩) exactly.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from openpyxl import Workbook
from pyproj import CRS, Geod

import landeff
from landeff.errors import CRSError, Diagnostics, InputError
from landeff.io.tables import read_table
from landeff.io.vector import read_layer
from landeff.join import attribute_land, link_enterprises
from landeff.validate import prepare_buildings, prepare_enterprises, prepare_parcels

AS_OF = "2025-06-30"
X0, Y0 = 500000.0, 3500000.0
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc(body17: str) -> str:
    """A code with its GB 32100-2015 check character (weights 3^i mod 31), from the standard."""
    total = sum(ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body17))
    return body17 + ALPHABET[(31 - total % 31) % 31]


CODE_A = uscc("91320214MA1X0000A")
CODE_B = uscc("91320214MA1X0000B")
CODE_C = uscc("91320214MA1X0000C")
BAD_CHECK = CODE_A[:-1] + ("0" if CODE_A[-1] != "0" else "1")


def test_the_code_helper_agrees_with_the_standards_worked_example():
    assert uscc("91350100M000100Y4") == "91350100M000100Y43"


def box(x, y, w=100.0, h=100.0):
    return shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)


def layer(ids, geoms, *, crs=4549, **cols):
    return gpd.GeoDataFrame({"宗地编号": ids, **cols}, geometry=list(geoms), crs=crs)


def two_parcels():
    """A (holder CODE_A) and B (holder CODE_B), 100 m x 100 m each = 10000 m² = 15 亩."""
    return layer(["A", "B"], [box(0, 0), box(100, 0)], **{"权利人统一社会信用代码": [CODE_A, CODE_B]})


def codes(diag_or_result):
    return set(diag_or_result.warnings["code"])


def warning(diag_or_result, code):
    w = diag_or_result.warnings
    hit = w[w["code"] == code]
    assert len(hit), f"no {code!r} warning; got {sorted(set(w['code']))}"
    return hit


def run(**kwargs):
    kwargs.setdefault("as_of", AS_OF)
    kwargs.setdefault("year", 2024)
    return landeff.evaluate(**kwargs)


def account(result, *, parcels_in, enterprise_file=None, enterprise_rows_in=None):
    """Rows in = rows used + rows rejected; every parcel once in the output."""
    assert len(result.parcels) == parcels_in
    assert result.parcels.index.is_unique
    if enterprise_file is not None:
        used = result.enterprise_years.loc[result.enterprise_years["_file"] == enterprise_file,
                                           "_row"]
        rejected = result.rejected.loc[result.rejected["file"] == enterprise_file, "row"]
        assert not set(used) & set(rejected), "a row both used and rejected"
        assert len(used) + len(rejected) == enterprise_rows_in
        assert len(set(used) | set(rejected)) == enterprise_rows_in


def write_csv(path: Path, header, rows, encoding="utf-8-sig"):
    lines = [",".join(header)] + [",".join("" if v is None else str(v) for v in r) for r in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return str(path)


def enterprises_csv(tmp_path, rows, header=("统一社会信用代码", "企业名称", "年度", "税收(万元)"),
                    name="e.csv", encoding="utf-8-sig"):
    return write_csv(tmp_path / name, header, rows, encoding)


def write_shp(gdf, path: Path, *, encoding="gbk", cpg: str | None = "keep", prj=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GDAL says it laundered (cut) the field names
        gdf.to_file(path, encoding=encoding, engine="pyogrio")
    cpg_path = path.with_suffix(".cpg")
    if cpg is None:
        cpg_path.unlink()
    elif cpg != "keep":
        cpg_path.write_text(cpg)
    if not prj:
        path.with_suffix(".prj").unlink()
    return str(path)


# --------------------------------------------------------------------------------------------
# Shapefiles: encodings and DBF names cut to 10 bytes
# --------------------------------------------------------------------------------------------

GBK_COLUMNS = {
    "统一社会信用代码": [CODE_A, CODE_B],   # 16 bytes in GBK: the DBF keeps 统一社会信
    "土地使用权人": ["无锡甲机械有限公司", "乙公司"],  # -> 土地使用权
    "约定开工时间": ["2020-03-01", "2021年5月6日"],  # -> 约定开工时
}


def gbk_layer():
    return layer(["甲-1", "乙-2"], [box(0, 0), box(100, 0)], **GBK_COLUMNS)


def test_gbk_shapefile_with_cpg_cut_names_match_and_link(tmp_path):
    path = write_shp(gbk_layer(), tmp_path / "宗地.shp", encoding="gbk")
    raw = read_layer(path)
    assert {"统一社会信", "土地使用权", "约定开工时"} <= set(raw.columns)  # cut to 10 bytes
    d = Diagnostics()
    par = prepare_parcels(raw, diagnostics=d)
    assert par["parcel_id"].tolist() == ["甲-1", "乙-2"]
    assert par["holder_uscc"].tolist() == [CODE_A, CODE_B]
    assert par["holder_name"].tolist() == ["无锡甲机械有限公司", "乙公司"]
    assert [str(x.date()) for x in par["agreed_start"]] == ["2020-03-01", "2021-05-06"]
    assert not codes(d) & {"encoding_guessed", "cpg_wrong", "mojibake_fixed"}
    # The cut 统一社会信 column links the enterprise to its parcel by holder code.
    ent = enterprises_csv(tmp_path, [[CODE_A, "无锡甲机械有限公司", 2024, 30]])
    r = run(parcels=path, enterprises=ent)
    assert r.links[["uscc", "parcel_id", "role"]].values.tolist() == [[CODE_A, "甲-1", "holder"]]
    assert r.parcels.loc["甲-1", "tax_wan_per_mu"] == pytest.approx(2.0)  # 30 万元 / 15 亩
    account(r, parcels_in=2, enterprise_file=ent, enterprise_rows_in=1)


@pytest.mark.parametrize(("cpg", "code", "in_message"), [
    (None, "encoding_guessed", "×ÚµØ±àºÅ"),   # no .cpg: GDAL reads Latin-1 (the pitfall)
    ("UTF-8", "cpg_wrong", "cannot be decoded"),  # wrong .cpg that fails to decode
    ("1252", "cpg_wrong", "×ÚµØ±àºÅ"),          # wrong .cpg that decodes to mojibake
])
def test_gbk_shapefile_without_or_with_a_wrong_cpg_is_read_as_gbk(tmp_path, cpg, code, in_message):
    path = write_shp(gbk_layer(), tmp_path / "p.shp", encoding="gbk", cpg=cpg)
    d = Diagnostics()
    par = prepare_parcels(read_layer(path), diagnostics=d)
    assert par["parcel_id"].tolist() == ["甲-1", "乙-2"]
    assert par["holder_name"].iloc[0] == "无锡甲机械有限公司"
    w = warning(d, code)
    msg = w["message"].iloc[0]
    assert path in msg and "GBK" in msg and in_message in msg
    assert "--encoding gbk" in msg


def test_utf8_shapefile_with_names_cut_inside_a_character(tmp_path):
    # GDAL cuts UTF-8 names at 10 bytes, inside the 4th character: 宗地编号 -> 宗地编 + half a 号.
    path = write_shp(gbk_layer(), tmp_path / "u.shp", encoding="utf-8")
    d = Diagnostics()
    par = prepare_parcels(read_layer(path), diagnostics=d)
    assert par["parcel_id"].tolist() == ["甲-1", "乙-2"]  # 宗地编 matched 宗地编号 by prefix
    assert par["holder_uscc"].tolist() == [CODE_A, CODE_B]  # 统一社 -> 统一社会信用代码
    assert "宗地编" in warning(d, "dbf_name_cut")["message"].iloc[0]


def test_utf8_shapefile_with_a_gbk_cpg(tmp_path):
    path = write_shp(gbk_layer(), tmp_path / "u.shp", encoding="utf-8", cpg="GBK")
    d = Diagnostics()
    par = prepare_parcels(read_layer(path), diagnostics=d)
    assert par["holder_name"].tolist() == ["无锡甲机械有限公司", "乙公司"]
    assert "UTF-8" in warning(d, "cpg_wrong")["message"].iloc[0]


def test_encoding_override(tmp_path):
    path = write_shp(gbk_layer(), tmp_path / "p.shp", encoding="gbk", cpg=None)
    d = Diagnostics()
    par = prepare_parcels(read_layer(path, encoding="gbk"), diagnostics=d)
    assert par["parcel_id"].tolist() == ["甲-1", "乙-2"]
    assert not codes(d) & {"encoding_guessed", "cpg_wrong", "text_not_decodable"}
    # A wrong override is kept (the user said so) but flagged, with the encoding that fits.
    d = Diagnostics()
    prepare_parcels(read_layer(path, encoding="utf-8"), diagnostics=d)
    assert "text_not_decodable" in codes(d)
    assert "--encoding gbk" in warning(d, "encoding_doubtful")["message"].iloc[0]


def test_geojson_whose_text_was_saved_as_mojibake(tmp_path):
    garble = lambda s: s.encode("gbk").decode("latin-1")  # noqa: E731 - what a bad export did
    lon, lat = 120.30, 31.50
    feature = {
        "type": "Feature",
        "properties": {garble("宗地编号"): garble("甲-1"), garble("土地使用权人"): garble("甲公司")},
        "geometry": shapely.geometry.mapping(shapely.box(lon, lat, lon + 0.001, lat + 0.001)),
    }
    p = tmp_path / "p.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]},
                            ensure_ascii=False), encoding="utf-8")
    d = Diagnostics()
    par = prepare_parcels(read_layer(p), diagnostics=d)
    assert par[["parcel_id", "holder_name"]].values.tolist() == [["甲-1", "甲公司"]]
    assert "mojibake_fixed" in codes(d)


# --------------------------------------------------------------------------------------------
# Coordinate systems
# --------------------------------------------------------------------------------------------


def test_shapefile_without_prj_is_a_clear_error_unless_a_crs_is_given(tmp_path):
    path = write_shp(two_parcels(), tmp_path / "noprj.shp", prj=False)
    with pytest.raises(CRSError, match=r"noprj\.shp.*no coordinate reference system.*--crs 4549"):
        read_layer(path)
    r = run(parcels=path, input_crs=4549)
    assert r.parcels["area_m2"].tolist() == pytest.approx([10000.0, 10000.0])


def test_no_prj_with_the_zone_prefix_suggests_the_codes_for_each_datum(tmp_path):
    g = two_parcels().translate(40e6)  # zone 40 (CM 120E) in front of the easting
    path = write_shp(gpd.GeoDataFrame(two_parcels().drop(columns="geometry"), geometry=g),
                     tmp_path / "p.shp", prj=False)
    # EPSG:4528 CGCS2000 zone 40, 2364 Xian 80 zone 40, 2416 Beijing 54 zone 40
    with pytest.raises(CRSError, match=r"zone prefix 40.*4528.*2364.*2416"):
        read_layer(path)


@pytest.mark.parametrize(("shift", "declared", "expected", "warned"), [
    (40e6, 4528, 4528, False),  # prefix in the eastings, prefix CRS: fine
    (40e6, 4549, 4528, True),   # prefix in the eastings, CRS without: corrected
    (0.0, 4528, 4549, True),    # no prefix, prefix CRS: corrected
    (39e6, 4528, 4527, True),   # the prefix says zone 39, the CRS zone 40
])
def test_gauss_kruger_zone_prefix_is_matched_to_the_coordinates(shift, declared, expected, warned):
    moved = list(two_parcels().translate(shift).values)
    par = gpd.GeoDataFrame(two_parcels().drop(columns="geometry"), geometry=moved, crs=declared)
    r = run(parcels=par)
    assert r.parcels.crs.to_epsg() == expected
    assert ("crs_zone_prefix" in codes(r)) == warned
    if warned:
        assert f"--crs {expected}" in warning(r, "crs_zone_prefix")["message"].iloc[0]
    if expected != 4527:  # zone 39 puts the boxes 3 degrees west: not 10000 m² on that zone
        assert r.parcels["area_m2"].tolist() == pytest.approx([10000.0, 10000.0], rel=1e-6)


@pytest.mark.parametrize("given", [
    2385, "EPSG:2385", CRS.from_epsg(2385).to_wkt(),                  # Xian 80, CM 120E
    "+proj=tmerc +lat_0=0 +lon_0=120 +k=1 +x_0=500000 +y_0=0 +ellps=IAU76 +units=m +no_defs",
    2437,                                                             # Beijing 54, CM 120E
])
def test_old_datums_given_as_epsg_wkt_or_proj(given):
    g = gpd.GeoDataFrame(two_parcels().drop(columns="geometry"), geometry=two_parcels().geometry)
    g = g.set_crs(None, allow_override=True)
    r = run(parcels=g, input_crs=given)
    # A 100 m box on the central meridian of any Gauss-Krüger zone is 10000 m²; the datums differ
    # by far less than the 0.05 % allowed here.
    assert r.parcels["area_m2"].tolist() == pytest.approx([10000.0, 10000.0], rel=5e-4)


def test_local_city_system_as_proj_string():
    local = "+proj=tmerc +lat_0=0 +lon_0=120.5 +k=1 +x_0=50000 +y_0=-3000000 +ellps=GRS80 +units=m"
    g = gpd.GeoDataFrame({"宗地编号": ["L1"]}, geometry=[shapely.box(50000, 500000, 50100, 500100)])
    r = run(parcels=g, input_crs=local)
    assert r.parcels["area_m2"].iloc[0] == pytest.approx(10000.0, rel=5e-4)
    assert "crs_far_from_use" not in codes(r)


def test_latitude_longitude_swapped_in_a_geographic_layer():
    right = [shapely.box(120.30, 31.50, 120.301, 31.501), shapely.box(120.31, 31.50, 120.311, 31.501)]
    swapped = shapely.transform(np.array(right), lambda c: c[:, ::-1])
    r = run(parcels=layer(["A", "B"], swapped, crs=4490))
    msg = warning(r, "axes_swapped")["message"].iloc[0]
    assert "latitude, longitude" in msg
    # Independent check: the ellipsoidal area of the right box (pyproj.Geod, GRS80).
    true_m2 = abs(Geod(ellps="GRS80").geometry_area_perimeter(right[0])[0])
    assert r.parcels.loc["A", "area_m2"] == pytest.approx(true_m2, rel=5e-4)


def test_northing_easting_swapped_in_a_projected_layer():
    swapped = shapely.transform(np.array([box(0, 0), box(100, 0)]), lambda c: c[:, ::-1])
    r = run(parcels=layer(["A", "B"], swapped))
    assert "northing, easting" in warning(r, "axes_swapped")["message"].iloc[0]
    assert r.parcels["area_m2"].tolist() == pytest.approx([10000.0, 10000.0])


def test_input_crs_does_not_replace_a_crs_the_coordinates_fit():
    d = Diagnostics()
    raw = read_layer(two_parcels(), input_crs=2385, diagnostics=d)
    assert raw.crs.to_epsg() == 4549
    assert "Xian 1980" in warning(d, "input_crs_ignored")["message"].iloc[0]


def test_input_crs_replaces_a_crs_the_coordinates_do_not_fit():
    degrees = layer(["A"], [shapely.box(120.30, 31.50, 120.301, 31.501)], crs=4549)
    with pytest.raises(CRSError, match="degrees of longitude and latitude.*--crs 4490"):
        read_layer(degrees)
    d = Diagnostics()
    raw = read_layer(degrees, input_crs=4490, diagnostics=d)
    assert raw.crs.to_epsg() == 4490
    assert "crs_overridden" in codes(d)


def test_layer_in_a_utm_zone_that_is_not_the_sites():
    # Wuxi (120.4E) stored in UTM 50N (CM 117E), as the real EULUC file is.
    geo = gpd.GeoSeries([shapely.box(120.40, 31.50, 120.41, 31.51)], crs=4490)
    utm = layer(["W"], geo.to_crs(32650).values, crs=32650)
    r = run(parcels=utm)
    msg = warning(r, "crs_not_site_zone")["message"].iloc[0]
    assert "enlarges areas by 0.1" in msg and "EPSG:4549" in msg
    # landeff measures in GK CM 120E whatever the layer's CRS: same as measuring there directly.
    assert r.parcels["area_m2"].iloc[0] == pytest.approx(float(geo.to_crs(4549).area.iloc[0]),
                                                         rel=1e-6)


# --------------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------------

BOW_TIE = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100), (0, 0)])
SPIKE = shapely.Polygon([(0, 0), (100, 0), (100, 100), (50, 100), (50, 150), (50, 100), (0, 100)])
REPEATED = shapely.Polygon([(0, 0), (100, 0), (100, 0), (100, 100), (0, 100), (0, 100), (0, 0)])
HOLE = shapely.Polygon([(0, 0), (100, 0), (100, 100), (0, 100)],
                       [[(40, 40), (60, 40), (60, 60), (40, 60)]])
MULTI = shapely.MultiPolygon([shapely.box(0, 0, 50, 100), shapely.box(60, 0, 110, 100)])
COLLECTION = shapely.GeometryCollection([shapely.box(0, 0, 100, 100),
                                         shapely.LineString([(100, 0), (150, 50)])])
FLAT = shapely.Polygon([(0, 0), (100, 0), (50, 0), (0, 0)])  # collinear: nothing polygonal


@pytest.mark.parametrize(("geom", "code", "area_m2"), [
    (BOW_TIE, "geometry_repaired", 5000.0),   # two triangles of 2500 m²
    (SPIKE, "geometry_repaired", 10000.0),     # the spike is a line: dropped
    (REPEATED, None, 10000.0),                 # repeated points are valid: nothing to say
    (HOLE, None, 10000.0 - 400.0),
    (MULTI, None, 2 * 5000.0),
    (COLLECTION, "geometry_collection", 10000.0),
    (shapely.Point(50, 50), "not_polygon", 0.0),
    (None, "empty_geometry", None),
    (FLAT, "geometry_lost", None),
])
def test_bad_geometry_is_repaired_or_reported_and_the_parcel_kept(geom, code, area_m2):
    shifted = None if geom is None else shapely.transform(geom, lambda c: c + [X0 + 1000, Y0])
    r = run(parcels=layer(["ok1", "bad", "ok2"], [box(0, 0), shifted, box(2000, 0)]))
    account(r, parcels_in=3)
    got = r.parcels.loc["bad", "area_m2"]
    if area_m2 is None:
        assert pd.isna(got) or got == 0
    else:
        assert got == pytest.approx(area_m2)
    geometry_codes = {"geometry_repaired", "geometry_collection", "not_polygon", "empty_geometry",
                      "geometry_lost"}
    found = r.warnings[r.warnings["code"].isin(geometry_codes)]
    if code is None:
        assert found.empty
    else:
        assert found[["code", "row"]].values.tolist() == [[code, 2]]
        if shifted is not None and code != "not_polygon":
            g = r.parcels.loc["bad", "geometry"]
            assert g is None or (g.is_valid and g.geom_type in {"Polygon", "MultiPolygon"})


def test_a_coordinate_that_is_not_a_number_leaves_the_parcel_empty():
    # A broken CAD export: GEOS cannot repair such a ring (make_valid raised before).
    lon, lat, s = 120.30, 31.50, 0.001
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shapely warns about the NaN it is asked to store
        nan_ring = shapely.Polygon([(lon, lat), (np.nan, lat), (lon + s, lat + s), (lon, lat + s)])
        infinite = shapely.Polygon([(lon, lat), (np.inf, lat), (lon + s, lat + s), (lon, lat + s)])
    broken_collection = shapely.GeometryCollection([nan_ring, shapely.Point(lon, lat)])
    geoms = [shapely.box(lon, lat, lon + s, lat + s), nan_ring, infinite, broken_collection]
    r = run(parcels=layer(["ok", "nan", "inf", "collection"], geoms, crs=4490))
    account(r, parcels_in=4)
    lost = warning(r, "geometry_lost")
    assert lost["row"].tolist() == [2, 3, 4]
    assert lost["value"].str.startswith("Invalid Coordinate").all()
    assert r.parcels["geometry"].isna().tolist() == [False, True, True, True]
    assert r.parcels["area_m2"].isna().tolist() == [False, True, True, True]


def _geojson(tmp_path, rings):
    feats = [{"type": "Feature", "properties": {"宗地编号": f"G{i + 1}"},
              "geometry": {"type": "Polygon", "coordinates": [ring]}} for i, ring in enumerate(rings)]
    p = tmp_path / "cad.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    return str(p)


def test_unclosed_ring_from_a_cad_export_is_closed_and_named(tmp_path):
    lon, lat, s = 120.30, 31.50, 0.001
    closed = [[lon, lat], [lon + s, lat], [lon + s, lat + s], [lon, lat + s], [lon, lat]]
    unclosed = [[x + 0.01, y] for x, y in closed[:-1]]  # 4 points, last != first
    path = _geojson(tmp_path, [closed, unclosed])
    r = run(parcels=path)
    w = warning(r, "ring_not_closed")
    assert w["row"].tolist() == [2] and "feature 2" in w["message"].iloc[0]
    assert "reader_message" not in codes(r)  # GDAL's own advice is replaced by ours
    true_m2 = abs(Geod(ellps="GRS80").geometry_area_perimeter(
        shapely.Polygon([[x + 0.01, y] for x, y in closed]))[0])
    assert r.parcels.loc["G2", "area_m2"] == pytest.approx(true_m2, rel=5e-4)
    account(r, parcels_in=2)


def test_degenerate_cad_ring_is_left_empty_and_named(tmp_path):
    lon, lat, s = 120.30, 31.50, 0.001
    square = [[lon, lat], [lon + s, lat], [lon + s, lat + s], [lon, lat + s], [lon, lat]]
    line = [[lon + 0.01, lat], [lon + 0.011, lat]]  # a "polygon" of two points, not closed
    r = run(parcels=_geojson(tmp_path, [square, line]))
    assert warning(r, "ring_not_closed")["row"].tolist() == [2]
    assert warning(r, "geometry_lost")["row"].tolist() == [2]  # closing it gives no area
    assert pd.isna(r.parcels.loc["G2", "area_m2"])
    account(r, parcels_in=2)


def test_slivers_are_warned_about_and_kept():
    strip = box(300, 0, 200, 0.3)       # 60 m², 0.3 m wide
    crumb = box(600, 0, 1.0, 0.5)        # 0.5 m²
    r = run(parcels=layer(["A", "strip", "crumb"], [box(0, 0), strip, crumb]))
    w = warning(r, "sliver")
    assert sorted(w["value"]) == ["crumb", "strip"]
    msg = w.loc[w["value"] == "strip", "message"].iloc[0]
    assert "60.00 m²" in msg and "0.30 m wide" in msg
    account(r, parcels_in=3)


def test_slivers_and_tiny_footprints_in_degrees_are_found_as_in_metres():
    # The same shapes in CGCS2000 degrees: a cheap bound skips most parcels, the rest are measured
    # in local metres, so the warnings are those of the metre layer (areas within a fraction of
    # a per cent: degrees are scaled at each feature's middle).
    shapes = [box(0, 0), box(300, 0, 200, 0.3), box(600, 0, 1.0, 0.5), box(900, 0, 3, 3),
              box(1200, 0, 0.9, 40)]
    ids = ["A", "strip", "crumb", "small", "thin"]
    metres = layer(ids, shapes)
    degrees = metres.to_crs(4490)
    d_m, d_deg = Diagnostics(), Diagnostics()
    prepare_parcels(read_layer(metres), diagnostics=d_m)
    prepare_parcels(read_layer(degrees), diagnostics=d_deg)
    assert sorted(warning(d_deg, "sliver")["value"]) == ["crumb", "strip", "thin"]
    assert sorted(warning(d_m, "sliver")["value"]) == ["crumb", "strip", "thin"]
    bld = gpd.GeoDataFrame({"建筑编号": ids}, geometry=shapes, crs=4549).to_crs(4490)
    d = Diagnostics()
    prepare_buildings(read_layer(bld), diagnostics=d)
    tiny = warning(d, "tiny_building")  # under 10 m²: crumb 0.5, small 9, strip 60 and thin 36 not
    assert tiny["row"].tolist() == [3, 4]
    assert tiny["value"].tolist() == pytest.approx([0.5, 9.0], rel=1e-2)


def test_overlapping_parcels_are_reported_pair_by_pair():
    par = layer(["A", "B", "C", "D", "E"],
                [box(0, 0), box(50, 0), box(400, 0), box(400, 0), box(150, 0)])
    d = Diagnostics()
    out = prepare_parcels(read_layer(par), diagnostics=d)
    report = out.attrs["overlaps"]
    # A|B overlap on 50 m x 100 m; C and D are the same box; E only touches B.
    assert report[["parcel_id_a", "parcel_id_b"]].values.tolist() == [["A", "B"], ["C", "D"]]
    assert report["overlap_m2"].tolist() == pytest.approx([5000.0, 10000.0])
    assert report["share_a"].tolist() == pytest.approx([0.5, 1.0])
    w = warning(d, "parcel_overlap")
    assert len(w) == 2
    assert "5,000.0 m²" in w["message"].iloc[0] and "'A'" in w["message"].iloc[0]
    assert "same shape twice" in w["message"].iloc[1]
    r = run(parcels=par)
    account(r, parcels_in=5)


def test_duplicate_parcel_ids_are_suffixed_and_links_to_them_rejected(tmp_path):
    par = layer(["A", "A", "B"], [box(0, 0), box(100, 0), box(200, 0)])
    ent = enterprises_csv(tmp_path, [[CODE_A, "甲", 2024, 10, "A"], [CODE_B, "乙", 2024, 20, "B"]],
                          header=("统一社会信用代码", "企业名称", "年度", "税收(万元)", "所在宗地编号"))
    r = run(parcels=par, enterprises=ent)
    assert list(r.parcels.index) == ["A", "A#2", "B"]
    assert "duplicate_parcel_id" in codes(r)
    assert warning(r, "ambiguous_parcel_link")["row"].tolist() == [2]
    rej = r.rejected
    assert rej[["row", "reason_code"]].values.tolist() == [[2, "no_parcel"]]
    account(r, parcels_in=3, enterprise_file=ent, enterprise_rows_in=2)
    # The same through the join directly.
    d = Diagnostics()
    p = prepare_parcels(read_layer(par), diagnostics=d)
    e = prepare_enterprises(read_table(ent, kind="enterprises"), default_year=None, diagnostics=d)
    links = link_enterprises(e, p, diagnostics=d, ambiguous_ids=p.attrs["ambiguous_ids"])
    assert links[["uscc", "parcel_id"]].values.tolist() == [[CODE_B, "B"]]
    assert d.rejected["reason_code"].tolist() == ["no_parcel"]


def test_parcel_far_outside_the_park_is_warned_about_with_its_distance():
    near = [box(200 * i, 0) for i in range(4)]
    far = box(0, 300_000)  # 300 km north along the central meridian (GK northings are arcs there)
    r = run(parcels=layer(["A", "B", "C", "D", "FAR"], [*near, far]))
    w = warning(r, "far_outside")
    assert w["value"].tolist()[0] == pytest.approx(300.0, abs=1.0)  # km, ± the park's own size
    assert "'FAR'" in w["message"].iloc[0]
    account(r, parcels_in=5)


def test_parcels_are_measured_from_the_middle_of_their_own_park():
    # Two parks 300 km apart along the central meridian, four parcels each; one parcel says it is
    # in park A but lies among park B's. Park by park, only the stray one is far: 300 km from A's
    # middle. Measured from one middle for the layer (the median lies among B's five parcels), all
    # four of A's would be.
    a = [box(200 * i, 0) for i in range(4)]
    b = [box(200 * i, 300_000) for i in range(4)]
    stray = box(1000, 300_000)
    ids = ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4", "STRAY"]
    parks = ["甲园"] * 4 + ["乙园"] * 4 + ["甲园"]
    r = run(parcels=layer(ids, [*a, *b, stray], **{"园区编号": parks}))
    w = warning(r, "far_outside")
    assert len(w) == 1 and "'STRAY'" in w["message"].iloc[0] and "park_id '甲园'" in w["message"].iloc[0]
    # A's middle is the median of its five centroids: x = 500 m along, y = 50 m up (box centres).
    assert w["value"].iloc[0] == pytest.approx(300.0, abs=1.0)
    # Without the park column the layer is one park; with a county column, counties are the parks.
    r = run(parcels=layer(ids, [*a, *b, stray], **{"行政区代码": ["320214"] * 4 + ["320211"] * 5}))
    assert "far_outside" not in codes(r)
    r = run(parcels=layer(ids, [*a, *b, stray]))
    assert warning(r, "far_outside")["row"].tolist() == [1, 2, 3, 4]  # features A1-A4


# --------------------------------------------------------------------------------------------
# Excel and CSV tables
# --------------------------------------------------------------------------------------------


def xlsx(path: Path, sheets: dict[str, list[list]], merges: dict[str, list[str]] | None = None):
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
        for rng in (merges or {}).get(name, []):
            ws.merge_cells(rng)
    wb.save(path)
    return str(path)


def test_title_row_and_merged_cells_above_the_header(tmp_path):
    path = xlsx(tmp_path / "e.xlsx", {"2024年": [
        ["衡山高新区2024年企业亩均效益数据（单位：万元）"], [None],
        ["统一社会信用代码", "企业名称", "年度", "税收(万元)"],
        [CODE_A, "甲", 2024, 30], [CODE_B, "乙", 2024, 15],
    ]}, {"2024年": ["A1:D1"]})
    r = run(parcels=two_parcels(), enterprises=path)
    assert sorted(r.enterprise_years["_row"]) == [4, 5]
    assert r.parcels["tax_wan_per_mu"].tolist() == pytest.approx([2.0, 1.0])
    account(r, parcels_in=2, enterprise_file=path, enterprise_rows_in=2)


def test_two_row_header_is_combined(tmp_path):
    path = xlsx(tmp_path / "e.xlsx", {"数据": [
        ["统一社会信用代码", "企业名称", "年度", "税收", None, "用电量"],
        [None, None, None, "金额(万元)", "同比(%)", "(万千瓦时)"],
        [CODE_A, "甲", 2024, 12.5, "8%", 3],
    ]}, {"数据": ["A1:A2", "B1:B2", "C1:C2", "D1:E1"]})
    raw = read_table(path, kind="enterprises")
    assert list(raw.columns[:6]) == ["统一社会信用代码", "企业名称", "年度", "税收(万元)", "税收同比(%)",
                                     "用电量(万千瓦时)"]
    r = run(parcels=two_parcels(), enterprises=path)
    e = r.enterprise_years.iloc[0]
    assert (e["tax_wan"], e["electricity_kwh"], e["_row"]) == (12.5, 30000.0, 3)
    assert "rows 1 and 2" in warning(r, "header_combined")["message"].iloc[0]
    assert "unit_assumed" not in codes(r)
    account(r, parcels_in=2, enterprise_file=path, enterprise_rows_in=1)


def test_two_row_header_with_the_unit_on_top(tmp_path):
    path = xlsx(tmp_path / "e.xlsx", {"数据": [
        ["统一社会信用代码", "企业名称", "年度", "实缴税金(元)", None],
        [None, None, None, "本年", "上年"],
        [CODE_A, "甲", 2024, 300000, 250000],
    ]}, {"数据": ["A1:A2", "B1:B2", "C1:C2", "D1:E1"]})
    r = run(parcels=two_parcels(), enterprises=path)
    assert r.enterprise_years["tax_wan"].tolist() == [30.0]  # 本年, 元 -> 万元; 上年 not used
    account(r, parcels_in=2, enterprise_file=path, enterprise_rows_in=1)


def test_totals_rows_are_rejected_as_non_data(tmp_path):
    ent = enterprises_csv(tmp_path, [
        [CODE_A, "甲", 2024, 30], [CODE_B, "乙", 2024, 15],
        [None, "合计", None, 45], [None, "总计：", None, 45], [None, "合　计", None, 45],
    ])
    r = run(parcels=two_parcels(), enterprises=ent)
    rej = r.rejected
    assert rej[["row", "reason_code"]].values.tolist() == [[4, "non_data"], [5, "non_data"],
                                                            [6, "non_data"]]
    account(r, parcels_in=2, enterprise_file=ent, enterprise_rows_in=5)


def test_numbers_as_text_with_separators_and_full_width_digits(tmp_path):
    ent = tmp_path / "e.csv"
    ent.write_text("统一社会信用代码,企业名称,年度,税收(万元)\n"
                   f'{CODE_A},甲,２０２４,"1,234.5"\n{CODE_B},乙,2024,１２\n', encoding="utf-8")
    r = run(parcels=two_parcels(), enterprises=str(ent))
    assert r.enterprise_years.sort_values("_row")["tax_wan"].tolist() == [1234.5, 12.0]
    account(r, parcels_in=2, enterprise_file=str(ent), enterprise_rows_in=2)


def test_wan_values_in_a_yuan_column_are_flagged(tmp_path):
    ent = enterprises_csv(tmp_path, [[CODE_A, "甲", 2024, 12.5], [CODE_B, "乙", 2024, 30]],
                          header=("统一社会信用代码", "企业名称", "年度", "实缴税金(元)"))
    r = run(parcels=two_parcels(), enterprises=ent)
    w = warning(r, "unit_suspect")
    # median of 12.5 and 30 元 = 21.25 元: far below 1000 元 for a firm's yearly tax
    assert "'实缴税金(元)'" in w["message"].iloc[0] and "21.25 元" in w["message"].iloc[0]
    assert "实缴税金(万元)" in w["message"].iloc[0]
    assert r.enterprise_years.sort_values("_row")["tax_wan"].tolist() == pytest.approx(
        [0.00125, 0.003])  # read as the header says
    account(r, parcels_in=2, enterprise_file=ent, enterprise_rows_in=2)


def test_yuan_values_in_a_wan_column_are_flagged(tmp_path):
    ent = enterprises_csv(tmp_path, [[CODE_A, "甲", 2024, 3_000_000], [CODE_B, "乙", 2024, 1_500_000]])
    r = run(parcels=two_parcels(), enterprises=ent)
    assert "look like 元" in warning(r, "unit_suspect")["message"].iloc[0]


def test_negative_tax_is_kept_and_said(tmp_path):
    ent = enterprises_csv(tmp_path, [[CODE_A, "甲", 2024, -3], [CODE_B, "乙", 2024, 15]])
    r = run(parcels=two_parcels(), enterprises=ent)
    w = warning(r, "tax_refund")
    assert (w["row"].tolist(), w["value"].tolist()) == ([2], [-3.0])
    assert r.parcels.loc["A", "tax_wan_per_mu"] == pytest.approx(-0.2)  # -3 万元 / 15 亩
    account(r, parcels_in=2, enterprise_file=ent, enterprise_rows_in=2)


def test_excel_serial_dates(tmp_path):
    path = xlsx(tmp_path / "e.xlsx", {"s": [
        ["统一社会信用代码", "企业名称", "年度", "税收(万元)", "投产时间"],
        [CODE_A, "甲", 2024, 30, 43831],      # Excel day 43831 = 2020-01-01
    ]})
    r = run(parcels=two_parcels(), enterprises=path)
    assert str(r.enterprise_years["production_start"].iloc[0].date()) == "2020-01-01"


def test_empty_workbooks_and_sheets_are_clear_errors(tmp_path):
    empty = xlsx(tmp_path / "empty.xlsx", {"Sheet1": []})
    with pytest.raises(InputError, match=r"empty\.xlsx.*every sheet.*'Sheet1'"):
        read_table(empty, kind="enterprises")
    two = xlsx(tmp_path / "two.xlsx", {"说明": [], "数据": [["统一社会信用代码", "年度"], [CODE_A, 2024]]})
    with pytest.raises(InputError, match=r"sheet '说明' is empty\. Sheets with data: '数据'.*--sheet"):
        read_table(two, kind="enterprises", sheet="说明")
    assert read_table(two, kind="enterprises")["_sheet"].tolist() == ["数据"]  # skips the empty one
    header_only = xlsx(tmp_path / "h.xlsx", {"s": [["统一社会信用代码", "企业名称", "年度"]]})
    d = Diagnostics()
    out = prepare_enterprises(read_table(header_only, kind="enterprises"), default_year=None,
                              diagnostics=d)
    assert out.empty and "no_data_rows" in codes(d)


def test_several_sheets(tmp_path):
    head = ["统一社会信用代码", "企业名称", "年度", "税收(万元)"]
    path = xlsx(tmp_path / "e.xlsx", {"2023年": [head, [CODE_A, "甲", 2023, 20]],
                                      "2024年": [head, [CODE_A, "甲", 2024, 30]]})
    d = Diagnostics()
    first = prepare_enterprises(read_table(path, kind="enterprises"), default_year=None,
                                diagnostics=d)
    assert first["year"].tolist() == [2023]
    assert "'2024年'" in warning(d, "other_sheets")["message"].iloc[0]
    r = run(parcels=two_parcels(), enterprises=path, sheet="2024年")
    assert r.enterprise_years["tax_wan"].tolist() == [30.0] and "other_sheets" not in codes(r)
    with pytest.raises(InputError, match="no sheet number 7"):
        read_table(path, kind="enterprises", sheet=7)


def test_credit_code_with_a_bad_check_character_is_kept_with_a_warning(tmp_path):
    ent = enterprises_csv(tmp_path, [[BAD_CHECK, "甲", 2024, 30]],
                          header=("统一社会信用代码", "企业名称", "年度", "税收(万元)"))
    par = layer(["A"], [box(0, 0)], **{"权利人统一社会信用代码": [BAD_CHECK]})
    r = run(parcels=par, enterprises=ent)
    assert warning(r, "uscc_check")["value"].tolist() == [BAD_CHECK, BAD_CHECK]  # both tables
    assert r.enterprise_years["uscc"].tolist() == [BAD_CHECK]
    account(r, parcels_in=1, enterprise_file=ent, enterprise_rows_in=1)


def test_credit_code_stored_as_a_number_is_rejected(tmp_path):
    path = xlsx(tmp_path / "e.xlsx", {"s": [
        ["统一社会信用代码", "企业名称", "年度", "税收(万元)"],
        [9.13202140000001e17, "甲", 2024, 30],  # what Excel keeps of a code typed as a number
        ["9.13202E+17", "乙", 2024, 20],         # the same, exported to text
        [CODE_B, "丙", 2024, 10],
    ]})
    r = run(parcels=two_parcels(), enterprises=path)
    rej = r.rejected
    assert rej[["row", "reason_code"]].values.tolist() == [[2, "uscc_lost"], [3, "uscc_lost"]]
    assert rej["value"].tolist() == ["9.13202E+17", "9.13202E+17"]
    assert "as text" in rej["message"].iloc[0]
    account(r, parcels_in=2, enterprise_file=path, enterprise_rows_in=3)


def test_holder_code_stored_as_a_number_empties_the_code_but_keeps_the_parcel():
    par = layer(["A", "B"], [box(0, 0), box(100, 0)],
                **{"权利人统一社会信用代码": [9.13202140000001e17, CODE_B]})
    d = Diagnostics()
    out = prepare_parcels(read_layer(par), diagnostics=d)
    assert out["holder_uscc"].tolist() == [None, CODE_B]
    assert warning(d, "uscc_lost")["row"].tolist() == [1]
    assert d.rejected.empty


def test_repeated_enterprise_years(tmp_path):
    ent = enterprises_csv(tmp_path, [
        [CODE_A, "甲", 2024, 30], [CODE_A, "甲", 2024, 30],   # equal: merged
        [CODE_B, "乙", 2024, 15], [CODE_B, "乙", 2024, 16],   # different: none used
    ])
    r = run(parcels=two_parcels(), enterprises=ent)
    assert r.rejected[["row", "reason_code"]].values.tolist() == [
        [3, "duplicate_merged"], [4, "duplicate_conflict"], [5, "duplicate_conflict"]]
    assert r.enterprise_years["_row"].tolist() == [2]
    account(r, parcels_in=2, enterprise_file=ent, enterprise_rows_in=4)


def test_gbk_csv_with_a_totals_row(tmp_path):
    ent = enterprises_csv(tmp_path, [[CODE_A, "无锡甲", 2024, 30], [None, "合计", None, 30]],
                          encoding="gbk")
    r = run(parcels=two_parcels(), enterprises=ent)
    assert r.enterprise_years["name"].tolist() == ["无锡甲"]
    account(r, parcels_in=2, enterprise_file=ent, enterprise_rows_in=2)


# --------------------------------------------------------------------------------------------
# Linking
# --------------------------------------------------------------------------------------------


def test_enterprise_matching_no_parcel_is_rejected_and_a_parcel_without_one_is_fine(tmp_path):
    ent = enterprises_csv(tmp_path, [[CODE_A, "甲", 2024, 30], [CODE_C, "丙", 2024, 9]])
    r = run(parcels=two_parcels(), enterprises=ent)
    assert r.rejected[["row", "reason_code"]].values.tolist() == [[3, "no_parcel"]]
    assert r.parcels.loc["B", "n_enterprises"] == 0
    about_b = r.warnings[r.warnings["message"].str.contains("'B'|parcel B", regex=True)]
    assert about_b.empty  # an empty parcel is not a problem of the input
    account(r, parcels_in=2, enterprise_file=ent, enterprise_rows_in=2)


def test_tenants_renting_more_than_the_building(tmp_path):
    par = layer(["A"], [box(0, 0)], **{"权利人统一社会信用代码": [CODE_A]})
    bld = gpd.GeoDataFrame({"层数": [2]}, geometry=[box(10, 10, 10, 10)], crs=4549)  # 200 m² floor
    ent = enterprises_csv(tmp_path, [[CODE_A, "甲", 2024, 10, "A", None],
                                     [CODE_B, "乙", 2024, 5, "A", 150],
                                     [CODE_C, "丙", 2024, 5, "A", 100]],
                          header=("统一社会信用代码", "企业名称", "年度", "税收(万元)", "所在宗地编号",
                                  "租用建筑面积(平方米)"))
    r = run(parcels=par, buildings=bld, enterprises=ent)
    assert set(warning(r, "tenants_exceed_building")["row"]) == {3, 4}
    land = r.links.set_index("uscc")["land_m2"]
    # 250 m² rented of 200: scaled to the whole parcel, 150:100; the holder keeps nothing.
    assert land[CODE_B] == pytest.approx(6000.0) and land[CODE_C] == pytest.approx(4000.0)
    assert land.sum() == pytest.approx(10000.0)  # the parcel is counted once
    account(r, parcels_in=1, enterprise_file=ent, enterprise_rows_in=3)


def test_tenant_and_holder_land_is_counted_once_in_attribute_land():
    links = pd.DataFrame({"row": [0, 1], "uscc": ["H", "T"], "key": ["H", "T"], "year": [2024] * 2,
                          "parcel_id": ["A", "A"], "how": ["holder_uscc", "parcel_ids"],
                          "role": ["holder", "tenant"]})
    ent = pd.DataFrame({"rented_floor_area_m2": [np.nan, 500.0]})
    par = pd.DataFrame({"parcel_id": ["A"], "area_m2": [10000.0], "floor_area_m2": [2000.0]})
    out = attribute_land(links, ent, par, diagnostics=Diagnostics())
    # the tenant rents 500 of 2000 m² of floor: a quarter of the land
    assert out["land_m2"].tolist() == pytest.approx([7500.0, 2500.0])


def test_a_year_missing_from_the_table(tmp_path):
    ent = enterprises_csv(tmp_path, [[CODE_A, "甲", 2024, 30]])
    r = run(parcels=two_parcels(), enterprises=ent, year=2022)
    assert "2022" in warning(r, "year_missing")["message"].iloc[0]
    account(r, parcels_in=2, enterprise_file=ent, enterprise_rows_in=1)


def test_strict_mode_turns_the_warnings_into_an_error(tmp_path):
    ent = enterprises_csv(tmp_path, [[CODE_A, "甲", 2024, -3]])
    with pytest.raises(InputError, match="(?s)strict mode.*tax_refund"):
        run(parcels=two_parcels(), enterprises=ent, strict=True)


# --------------------------------------------------------------------------------------------
# Buildings
# --------------------------------------------------------------------------------------------


def test_tiny_footprints_and_implausible_floors():
    bld = gpd.GeoDataFrame({"建筑编号": ["big", "shed", "zero"], "层数": [3, 1, 0]},
                           geometry=[box(0, 0, 20, 30), box(40, 0, 2, 3), box(60, 0, 10, 10)],
                           crs=4549)
    d = Diagnostics()
    prepare_buildings(read_layer(bld), diagnostics=d)
    assert warning(d, "tiny_building")[["row", "value"]].values.tolist() == [[2, 6.0]]
    assert warning(d, "floors_implausible")["row"].tolist() == [3]


def test_footprints_cut_at_web_map_tile_edges():
    edge = 120.60099  # a z17 tile edge in Suzhou
    lat, h, w = 31.30, 0.0001, 0.0001
    geoms, ids = [], []
    for k in range(4):  # four buildings straddle the edge, each delivered as two pieces
        y = lat + 3 * k * h
        geoms += [shapely.box(edge - w, y, edge, y + h), shapely.box(edge, y, edge + w, y + h)]
        ids += [f"b{k}w", f"b{k}e"]
    # two row houses sharing one wall elsewhere: not a tile edge (one pair only)
    geoms += [shapely.box(120.605, lat, 120.6051, lat + h), shapely.box(120.6051, lat, 120.6052,
                                                                          lat + h)]
    ids += ["r1", "r2"]
    bld = gpd.GeoDataFrame({"建筑编号": ids}, geometry=geoms, crs=4326)
    d = Diagnostics()
    out = prepare_buildings(read_layer(bld), diagnostics=d)
    edges = out.attrs["tile_edges"]
    assert edges[["axis", "pairs"]].values.tolist() == [["lon", 4]]
    assert edges["at_deg"].iloc[0] == pytest.approx(edge, abs=1e-9)
    assert sorted(warning(d, "tile_edge_cut")["row"]) == list(range(1, 9))


# --------------------------------------------------------------------------------------------
# Row accounting for contracts and buildings
# --------------------------------------------------------------------------------------------


def test_contract_rows_are_accounted_for(tmp_path):
    path = write_csv(tmp_path / "c.csv",
                     ["宗地编号", "合同签订日期", "约定开工时间", "权利人统一社会信用代码", "成交价格(万元)"], [
                         ["A", "2021-01-05", "2021-06-01", CODE_A, 500],
                         ["B", "2022年3月1日", "2022-09-01", "9.13202E+17", 300],  # code lost: blanked
                         ["Z", "2020-01-01", "2020-06-01", CODE_C, 100],    # no such parcel
                         ["A", "2023-01-01", "2023-06-01", CODE_A, 700],    # a second contract for A
                         ["合计", None, None, None, 1600],
                     ])
    r = run(parcels=two_parcels(), contracts=path)
    rej = r.rejected[r.rejected["file"] == path]
    assert rej[["row", "reason_code"]].values.tolist() == [
        [6, "non_data"], [4, "no_parcel"], [5, "duplicate_contract"]]
    # The two rows used are on their parcels: 5 rows in = 2 used + 3 rejected.
    assert str(r.parcels.loc["A", "contract_date"].date()) == "2021-01-05"
    assert str(r.parcels.loc["B", "contract_date"].date()) == "2022-03-01"
    assert r.parcels.loc["A", "land_price_wan"] == 500
    assert warning(r, "uscc_lost")["row"].tolist() == [3]
    account(r, parcels_in=2)


def test_building_rows_are_accounted_for():
    bld = gpd.GeoDataFrame({"层数": [2, 3, 1]},
                           geometry=[box(10, 10, 20, 20), box(110, 10, 20, 20), box(900, 0, 20, 20)],
                           crs=4549)
    r = run(parcels=two_parcels(), buildings=bld)
    used = r.buildings["building_id"].nunique()
    rejected = r.rejected.loc[r.rejected["reason_code"] == "building_outside_parcels", "row"]
    assert (used, rejected.tolist()) == (2, [3])
    assert r.parcels["far"].tolist() == pytest.approx([0.08, 0.12])  # 400 m² x 2 or 3 floors


# --------------------------------------------------------------------------------------------
# GeoPackage layers are read through Arrow when that gives the frame the row-by-row reader gives.
# --------------------------------------------------------------------------------------------


def typed_layer():
    """Text (Chinese, blank, missing), integers and floats with gaps, times, mixed geometry."""
    return gpd.GeoDataFrame(
        {"宗地编号": ["甲-1", "B2", None, ""], "权利人": ["无锡甲机械有限公司", None, "乙", " 丙 "],
         "n": pd.array([1, None, 3, 4], dtype="Int64"), "n32": np.array([1, 2, 3, 4], "int32"),
         "area": [1.5, np.nan, 2.0, 3.0],
         "t": pd.to_datetime(["2020-01-02 03:04:05", None, "2021-06-30 00:00:00", "2022-01-01 00:00:00"])},
        geometry=[box(0, 0), None, shapely.MultiPolygon([box(200, 0), box(400, 0)]),
                  box(600, 0, 50, 20)],
        crs=4549,
    )


def read_both_ways(path, monkeypatch):
    import landeff.io.vector as vector

    through_arrow = read_layer(path)
    with monkeypatch.context() as m:
        m.setattr(vector, "ARROW_SUFFIXES", set())
        row_by_row = read_layer(path)
    return through_arrow, row_by_row


def assert_same_layer(a, b):
    assert a.crs == b.crs and a.attrs == b.attrs
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
    same = shapely.equals_exact(np.asarray(a.geometry.values), np.asarray(b.geometry.values), 0)
    assert (same | (a.geometry.isna() & b.geometry.isna())).all()


def test_geopackage_read_through_arrow_is_the_row_by_row_frame(tmp_path, monkeypatch):
    from landeff.io.vector import _arrow_reads_alike

    path = tmp_path / "p.gpkg"
    typed_layer().to_file(path, engine="pyogrio")
    assert _arrow_reads_alike(path, {})
    through_arrow, row_by_row = read_both_ways(path, monkeypatch)
    assert_same_layer(through_arrow, row_by_row)
    assert through_arrow["n"].isna().tolist() == [False, True, False, False]


def test_geopackage_with_a_flag_field_with_gaps_is_read_row_by_row(tmp_path, monkeypatch):
    from landeff.io.vector import _arrow_reads_alike

    path = tmp_path / "p.gpkg"
    typed_layer().assign(flag=pd.array([True, None, False, True], dtype="boolean")).to_file(
        path, engine="pyogrio")
    assert not _arrow_reads_alike(path, {})  # Arrow would give objects, row by row floats
    through_arrow, row_by_row = read_both_ways(path, monkeypatch)
    assert_same_layer(through_arrow, row_by_row)
    assert through_arrow["flag"].dtype == "float64"


def test_failed_arrow_read_falls_back_to_row_by_row_without_its_messages(tmp_path, monkeypatch):
    import pyogrio

    import landeff.io.vector as vector

    path = tmp_path / "p.gpkg"
    typed_layer().to_file(path, engine="pyogrio")
    real = pyogrio.read_dataframe

    def arrow_fails(*args, use_arrow=False, **kwargs):  # as for a layer of curved geometry
        if use_arrow:
            warnings.warn("from the failed Arrow read", RuntimeWarning, stacklevel=2)
            raise NotImplementedError("Nonlinear geometry types are not currently supported")
        return real(*args, **kwargs)

    monkeypatch.setattr(vector.pyogrio, "read_dataframe", arrow_fails)
    got = read_layer(path)
    monkeypatch.setattr(vector.pyogrio, "read_dataframe", real)
    _, row_by_row = read_both_ways(path, monkeypatch)
    assert_same_layer(got, row_by_row)
    assert not any("failed Arrow" in n["message"] for n in got.attrs["read_warnings"])
