import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from landeff.crs import M2_PER_MU, area_zones, gk_zone_epsg, parse_crs, planar_area_m2
from landeff.errors import CRSError

GEOD = Geod(ellps="GRS80")  # CGCS2000 uses the GRS80-equivalent ellipsoid


def geodesic_m2(geom):
    return abs(GEOD.geometry_area_perimeter(geom)[0])


def test_mu_is_ten_thousand_fifteenths_of_a_square_metre():
    assert pytest.approx(666.6667, abs=1e-4) == M2_PER_MU
    assert pytest.approx(10000.0) == 15 * M2_PER_MU


@pytest.mark.parametrize(
    ("lon", "epsg"),
    [(75.0, 4534), (112.87, 4547), (112.4, 4546), (114.0, 4547), (120.4, 4549), (135.0, 4554)],
)
def test_zone_from_longitude(lon, epsg):
    # CM = 3 * round(lon / 3); code = 4534 + (CM - 75) / 3  (DOMAIN.md)
    assert int(gk_zone_epsg(lon)) == epsg


def test_area_agrees_with_geodesic_area_within_a_tenth_of_a_percent():
    polys = [
        shapely.box(112.87, 27.23, 112.875, 27.234),
        shapely.Polygon([(112.9, 27.2), (112.91, 27.2), (112.905, 27.21)]),
        shapely.box(120.40, 31.50, 120.41, 31.51),
    ]
    g = gpd.GeoSeries(polys, crs=4490)
    got = planar_area_m2(g, area_zones(g))
    for poly, area in zip(polys, got, strict=True):
        assert area == pytest.approx(geodesic_m2(poly), rel=1e-3)


def test_park_spanning_two_zones_measures_each_parcel_in_its_own_zone():
    # 112.4E lies in the CM 111 zone, 112.6E in the CM 114 zone.
    polys = [shapely.box(112.40, 27.2, 112.41, 27.21), shapely.box(112.60, 27.2, 112.61, 27.21)]
    g = gpd.GeoSeries(polys, crs=4490)
    zones = area_zones(g)
    assert zones.tolist() == [4546, 4547]
    got = planar_area_m2(g, zones)
    for poly, area in zip(polys, got, strict=True):
        assert area == pytest.approx(geodesic_m2(poly), rel=5e-4)


def test_projected_input_is_measured_in_the_site_zone_not_its_own_crs():
    # A 1 km square built in UTM 50N at 120.4E, 31.5N (Wuxi lies in UTM 51): the GK zone CM 120 is
    # used, and UTM 50's own planar area (1 km², scale factor ~1.0009 there) would be ~0.17 % high.
    x0, y0 = gpd.GeoSeries([shapely.Point(120.4, 31.5)], crs=4490).to_crs(32650).iloc[0].coords[0]
    sq = gpd.GeoSeries([shapely.box(x0, y0, x0 + 1000, y0 + 1000)], crs=32650)
    zones = area_zones(sq)
    assert zones.tolist() == [4549]
    area = planar_area_m2(sq, zones).iloc[0]
    lonlat = sq.to_crs(4490).iloc[0]
    assert area == pytest.approx(geodesic_m2(lonlat), rel=5e-4)
    assert 1e6 / area - 1 == pytest.approx(0.0017, abs=3e-4)


def test_area_crs_must_be_projected():
    g = gpd.GeoSeries([shapely.box(112.87, 27.23, 112.875, 27.234)], crs=4490)
    with pytest.raises(CRSError, match="not a projected CRS"):
        area_zones(g, area_crs=4490)
    assert area_zones(g, area_crs="EPSG:4545").tolist() == [4545]


def test_parse_crs_accepts_codes_wkt_and_proj_and_explains_bad_input():
    assert parse_crs("4549").to_epsg() == 4549
    assert parse_crs(parse_crs(2383).to_wkt()).to_epsg() == 2383  # Xian 80 GK CM 114
    assert parse_crs("+proj=tmerc +lon_0=114 +k=1 +x_0=500000 +ellps=GRS80 +units=m").is_projected
    with pytest.raises(CRSError, match="EPSG code"):
        parse_crs("not a crs")


def test_missing_geometry_is_zero_not_an_error():
    g = gpd.GeoSeries([shapely.box(112.87, 27.23, 112.875, 27.234), None], crs=4490)
    z = area_zones(g)
    a = planar_area_m2(g, z)
    assert a.iloc[0] > 0
    assert np.isnan(a.iloc[1]) or a.iloc[1] == 0
    assert isinstance(z, pd.Series)


# --- projection and area from coordinates: the numbers of to_crs and shapely.area ---------------


def _to_crs_one_by_one(geoms, zones):
    """The plain way: each geometry through ``GeoSeries.to_crs`` to its zone (None: no zone)."""
    return [
        None if g is None or z == -1 else gpd.GeoSeries([g], crs=4490).to_crs(z).iloc[0]
        for g, z in zip(geoms, zones, strict=True)
    ]


def _mixed_geometries():
    square = shapely.box(112.40, 27.20, 112.401, 27.201)  # CM 111 zone (EPSG:4546)
    holed = shapely.Polygon(
        shapely.box(112.60, 27.2, 112.61, 27.21).exterior.coords,
        [shapely.box(112.602, 27.202, 112.603, 27.203).exterior.coords],
    )
    return [
        square,
        holed,
        shapely.MultiPolygon([square, shapely.box(112.402, 27.2, 112.403, 27.201)]),
        shapely.Point(112.6, 27.2),
        shapely.LineString([(112.6, 27.2), (112.61, 27.21)]),
        shapely.Polygon([(x, y, 5.0) for x, y in square.exterior.coords]),  # with Z
        None,
        shapely.Polygon(),
        square,  # no zone
    ]


def test_project_by_zone_gives_the_coordinates_of_to_crs():
    from landeff.crs import project_by_zone

    geoms = _mixed_geometries()
    zones = [4546, 4547, 4546, 4547, 4547, 4546, 4547, 4547, -1]
    got = project_by_zone(gpd.GeoSeries(geoms, crs=4490), pd.Series(zones, dtype=object))
    expected = _to_crs_one_by_one(geoms, zones)
    assert got.crs is None  # two zones: no single CRS
    for g, e in zip(got, expected, strict=True):
        assert (g is None and e is None) or shapely.equals_exact(g, e, tolerance=0)
        if e is not None and shapely.has_z(e):
            assert shapely.get_coordinates(g, include_z=True)[:, 2].tolist() == [5.0] * 5
    # a layer already in its zone is left as it is, as to_crs leaves it
    planar = gpd.GeoSeries([shapely.box(500000, 3000000, 500010, 3000010)], crs=4547)
    same = project_by_zone(planar, pd.Series([4547], dtype=object))
    assert same.crs.to_epsg() == 4547
    assert shapely.equals_exact(same.iloc[0], planar.iloc[0], tolerance=0)


def test_polygon_areas_are_those_of_shapely_to_the_bit():
    from landeff.crs import polygon_areas, ring_areas

    rng = np.random.default_rng(3)

    def ring(cx, cy, r0, r1, n):
        angle = np.sort(rng.uniform(0, 2 * np.pi, n))
        radius = rng.uniform(r0, r1, n)
        pts = np.c_[cx + radius * np.cos(angle), cy + radius * np.sin(angle)]
        pts = np.roll(pts, rng.integers(0, n), axis=0)
        return pts[::-1] if rng.random() < 0.5 else pts

    polys = []
    for _ in range(3000):  # GK-sized coordinates, 3 to 60 vertices, up to two holes
        cx, cy = rng.uniform(3e5, 7e5), rng.uniform(2e6, 5e6)
        holes = [ring(cx + dx, cy, 3, 8, int(rng.integers(3, 9))) for dx in (-25, 25)]
        polys.append(
            shapely.Polygon(
                ring(cx, cy, 60, 100, int(rng.integers(3, 60))), holes[: int(rng.integers(0, 3))]
            )
        )
    polys = np.array([p for p in polys if p.is_valid], dtype=object)
    _, coords, (ring_offsets, polygon_offsets) = shapely.to_ragged_array(polys)
    assert (polygon_areas(coords, ring_offsets, polygon_offsets) == shapely.area(polys)).all()
    signed = ring_areas(coords, ring_offsets)
    assert ((signed < 0) == shapely.is_ccw(shapely.get_rings(polys))).all()  # negative: CCW
    # by hand: the unit square anticlockwise, from the origin: -1
    unit = np.array([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)])
    assert ring_areas(unit, np.array([0, 5])).tolist() == [-1.0]


def test_planar_area_from_coordinates_is_the_area_of_the_projected_geometry():
    geoms = _mixed_geometries()
    zones = [4546, 4547, 4546, 4547, 4547, 4546, 4547, 4547, -1]
    got = planar_area_m2(gpd.GeoSeries(geoms, crs=4490), pd.Series(zones, dtype=object))
    expected = shapely.area(np.array(_to_crs_one_by_one(geoms, zones), dtype=object))
    assert np.array_equal(got.to_numpy(), expected, equal_nan=True)  # to the last bit
    # polygons are measured from their coordinates, multipolygons from their projected geometry:
    # the multipolygon of the square and another holds the square's area exactly once
    square = planar_area_m2(
        gpd.GeoSeries([geoms[2].geoms[1]], crs=4490), pd.Series([4546], dtype=object)
    ).iloc[0]
    assert got.iloc[2] == got.iloc[0] + square
    assert got.iloc[5] == got.iloc[0]  # Z does not change a planar area
    assert got.iloc[3] == 0.0 and got.iloc[7] == 0.0
    assert np.isnan(got.iloc[6]) and np.isnan(got.iloc[8])


def test_long_rings_are_summed_in_order_too():
    from landeff.crs import polygon_areas

    # 20 000 vertices: more than the vectorised steps; with and without a hole of 300
    angle = np.linspace(0, 2 * np.pi, 20_000, endpoint=False)
    shell = np.c_[512_345.6 + 800 * np.cos(angle), 3_456_789.1 + 500 * np.sin(angle)]
    small = np.linspace(0, 2 * np.pi, 300, endpoint=False)[::-1]
    hole = np.c_[512_345.6 + 50 * np.cos(small), 3_456_789.1 + 50 * np.sin(small)]
    polys = np.array([shapely.Polygon(shell), shapely.Polygon(shell, [hole])], dtype=object)
    _, coords, (ring_offsets, polygon_offsets) = shapely.to_ragged_array(polys)
    got = polygon_areas(coords, ring_offsets, polygon_offsets)
    assert got.tolist() == shapely.area(polys).tolist()
    assert got[0] == pytest.approx(np.pi * 800 * 500, rel=1e-6)  # an ellipse, by hand


def test_lonlat_of_empty_and_missing_geometry_is_nan():
    from landeff.crs import lonlat_of

    geoms = gpd.GeoSeries([shapely.Polygon(), None, shapely.box(500000, 3500000, 500100, 3500100)],
                          crs=4549)
    lon, lat = lonlat_of(geoms)
    assert np.isnan(lon[:2]).all() and np.isnan(lat[:2]).all()
    # the box's centre, (500050, 3500050) in GK zone 40 (CM 120E), lies just east of 120E
    assert lon[2] == pytest.approx(120.0005, abs=1e-3) and 31.0 < lat[2] < 31.7


# --- work in runs over threads, and zones read off bounding boxes: the same numbers --------------


@pytest.fixture
def three_cpus(monkeypatch):
    import landeff.parallel

    monkeypatch.setattr(landeff.parallel, "usable_cpus", lambda: 3)


def test_project_coords_in_runs_are_those_of_one_transform_per_zone(three_cpus):
    from pyproj import Transformer

    from landeff.crs import project_coords
    from landeff.parallel import run_cuts

    rng = np.random.default_rng(3)
    n = 6000  # above PARALLEL_MIN_ROWS: three runs of 2000 points
    assert len(run_cuts(n)) == 4
    coords = np.c_[rng.uniform(112.0, 121.0, n), rng.uniform(27.0, 31.0, n)]
    zone_of_point = rng.integers(-1, 3, n)  # -1: no zone (NaN)
    zones = [4547, 4549, 4490]  # the last is the source CRS: points kept as they are
    got = project_coords(coords, zone_of_point, zones, 4490)
    expected = np.full(coords.shape, np.nan)
    for k, epsg in enumerate(zones[:2]):
        at = zone_of_point == k
        x, y = Transformer.from_crs(4490, epsg, always_xy=True).transform(*coords[at].T)
        expected[at] = np.c_[x, y]
    expected[zone_of_point == 2] = coords[zone_of_point == 2]
    assert np.array_equal(got, expected, equal_nan=True)
    assert np.isnan(got[zone_of_point == -1]).all()


def test_zone_of_a_box_away_from_zone_edges_is_read_off_its_sides():
    from landeff.crs import _zones_by_box

    geoms = np.array(
        [
            shapely.box(119.0, 30.0, 119.01, 30.01),  # 119 / 3 = 39.7 -> CM 120E: 4549
            shapely.box(118.4, 30.0, 118.7, 30.01),  # across 118.5E, the edge of two zones
            shapely.box(118.4988, 30.0, 118.4992, 30.01),  # within 0.001 degree of the edge
            # a thin diagonal sliver: its area is far below 1 % of its box's
            shapely.Polygon([(119.0, 30.0), (119.01, 30.01), (119.01, 30.0100001)]),
            shapely.Point(119.0, 30.0),  # no area
            shapely.Polygon(),
            None,
        ],
        dtype=object,
    )
    assert _zones_by_box(geoms).tolist() == [4549, -2, -2, -2, -2, -2, -2]


def test_area_zones_are_the_zones_of_the_centroids(three_cpus):
    from landeff.crs import lonlat_of

    rng = np.random.default_rng(11)
    n = 3000
    x = rng.uniform(110.0, 122.0, n)
    x[:300] = 118.5 + rng.uniform(-0.002, 0.0, 300)  # boxes across or beside the 118.5E edge
    y = rng.uniform(27.0, 31.0, n)
    w = rng.uniform(1e-4, 3e-3, n)
    geoms = list(shapely.box(x, y, x + w, y + w / 2))
    geoms[300:310] = [shapely.Polygon()] * 5 + [None] * 5
    g = gpd.GeoSeries(geoms, crs=4490)
    lon, _ = lonlat_of(g)
    expected = np.where(np.isfinite(lon), gk_zone_epsg(np.nan_to_num(lon, nan=111.0)), -1)
    got = area_zones(g)
    assert got.tolist() == expected.tolist()
    assert {4547, 4548, 4549, -1} <= set(got)  # both sides of the edge, and no zone
    # a projected layer: its centroids are converted; the same rule
    projected = g.to_crs(4549)
    lon_p, _ = lonlat_of(projected)
    expected_p = np.where(np.isfinite(lon_p), gk_zone_epsg(np.nan_to_num(lon_p, nan=111.0)), -1)
    assert area_zones(projected).tolist() == expected_p.tolist()


def test_lonlat_of_in_runs_is_one_centroid_and_transform(three_cpus):
    from pyproj import Transformer

    from landeff.crs import lonlat_of

    rng = np.random.default_rng(5)
    x, y = rng.uniform(400_000, 600_000, 2500), rng.uniform(3_300_000, 3_400_000, 2500)
    g = gpd.GeoSeries(shapely.box(x, y, x + 50, y + 20), crs=4549)
    centres = shapely.centroid(np.asarray(g.values, dtype=object))
    expected = Transformer.from_crs(4549, 4490, always_xy=True).transform(
        shapely.get_x(centres), shapely.get_y(centres)
    )
    lon, lat = lonlat_of(g)
    assert lon.tolist() == list(expected[0]) and lat.tolist() == list(expected[1])


def test_polygon_areas_in_runs_are_those_of_geos(three_cpus):
    from landeff.crs import polygon_areas
    from landeff.parallel import run_cuts

    rng = np.random.default_rng(9)
    n = 2400  # three runs of 800 polygons
    assert len(run_cuts(n)) == 4
    x, y = rng.uniform(400_000, 600_000, n), rng.uniform(3_300_000, 3_400_000, n)
    polys = []
    for k in range(n):  # triangles to 80-gons, a third with a hole
        m = int(rng.integers(3, 80))
        angle = np.sort(rng.uniform(0, 2 * np.pi, m))
        radius = rng.uniform(20, 40, m)
        shell = np.c_[x[k] + radius * np.cos(angle), y[k] + radius * np.sin(angle)]
        hole = [np.c_[x[k] + 5 * np.cos(angle[::-1]), y[k] + 5 * np.sin(angle[::-1])]]
        polys.append(shapely.Polygon(shell, hole if k % 3 == 0 else None))
    polys = np.array(polys, dtype=object)
    _, coords, (ring_offsets, polygon_offsets) = shapely.to_ragged_array(polys)
    assert polygon_areas(coords, ring_offsets, polygon_offsets).tolist() == shapely.area(polys).tolist()
