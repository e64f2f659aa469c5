"""WGS-84 → GCJ-02 against published reference points, the inverse, and geometry shifting."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from landeff.gcj02 import gcj02_to_wgs84, in_china, shift_geometries, wgs84_to_gcj02

# Reference pairs (WGS-84 lon, lat → GCJ-02 lon, lat) published by two independent projects:
# - wandergis/coordtransform, test/app.js: wgs84togcj02(116.404, 39.915) → [116.41024449916938,
#   39.91640428150164] (also asserted exactly in hutool's CoordinateUtilTest);
# - googollee/eviltransform, python/test.py: Shanghai, Shenzhen and Beijing, asserted there to
#   6 decimal places.
COORDTRANSFORM = [((116.404, 39.915), (116.41024449916938, 39.91640428150164))]
EVILTRANSFORM = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # Shanghai
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # Shenzhen
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # Beijing
]


@pytest.mark.parametrize(("wgs", "gcj"), COORDTRANSFORM + EVILTRANSFORM)
def test_forward_matches_published_points(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    lon, lat = wgs84_to_gcj02(*wgs)
    # 1e-9 degree is 0.1 mm: the same algorithm gives the same digits
    assert float(lon) == pytest.approx(gcj[0], abs=1e-9)
    assert float(lat) == pytest.approx(gcj[1], abs=1e-9)


def test_forward_is_vectorised_and_shape_preserving() -> None:
    wgs = np.array([w for w, _ in EVILTRANSFORM])
    gcj = np.array([g for _, g in EVILTRANSFORM])
    lon, lat = wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
    assert lon.shape == (3,)
    np.testing.assert_allclose(np.column_stack([lon, lat]), gcj, atol=1e-9)
    lon2, lat2 = wgs84_to_gcj02(wgs[:, 0].reshape(3, 1), wgs[:, 1].reshape(3, 1))
    assert lon2.shape == (3, 1)


def test_outside_china_unchanged() -> None:
    # Tokyo and Paris lie outside the box 72.004–137.8347 E, 0.8293–55.8271 N
    lon, lat = wgs84_to_gcj02([139.69, 2.35], [35.68, 48.85])
    assert lon.tolist() == [139.69, 2.35]
    assert lat.tolist() == [35.68, 48.85]
    assert in_china([139.69, 120.0], [35.68, 30.0]).tolist() == [False, True]


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM)
def test_inverse_recovers_wgs84(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    lon, lat = gcj02_to_wgs84(*gcj)
    # eviltransform's own exact inverse is tested to 0.5 m; the iteration here reaches 1e-9 degree
    assert float(lon) == pytest.approx(wgs[0], abs=1e-8)
    assert float(lat) == pytest.approx(wgs[1], abs=1e-8)


def test_shift_geometries_moves_every_vertex_and_keeps_holes() -> None:
    outer = [(121.52, 31.17), (121.53, 31.17), (121.53, 31.18), (121.52, 31.18)]
    hole = [(121.524, 31.174), (121.526, 31.174), (121.526, 31.176), (121.524, 31.176)]
    poly = shapely.Polygon(outer, [hole])
    moved = shift_geometries([poly, None])
    assert moved[1] is None
    got = shapely.get_coordinates(moved[0])
    src = shapely.get_coordinates(poly)
    exp_lon, exp_lat = wgs84_to_gcj02(src[:, 0], src[:, 1])
    np.testing.assert_allclose(got, np.column_stack([exp_lon, exp_lat]), atol=1e-12)
    assert len(moved[0].interiors) == 1
    # the offset near Shanghai is about 410 m east and 235 m south (from the reference point above)
    dlon, dlat = got[0] - src[0]
    assert 0.0040 < dlon < 0.0045
    assert -0.0025 < dlat < -0.0020
    back = shift_geometries(moved, to="wgs84")
    np.testing.assert_allclose(shapely.get_coordinates(back[0]), src, atol=1e-8)


def test_shift_geometries_rejects_unknown_target() -> None:
    with pytest.raises(ValueError, match="'gcj02' or 'wgs84'"):
        shift_geometries([shapely.Point(120, 30)], to="bd09")
