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
