"""Grid centroids in WGS-84, whatever datum a city's sheet wrote them in.

The only typed door to `prcoords` (untyped, so mypy is told to skip it for that module
alone): GCJ-02 and BD-09 are fixed, published obfuscations, and prcoords implements them
and their iterative ("bored") inverses, which land within centimetres where the plain
inverse is metres off.
"""

from __future__ import annotations

import prcoords

from server.store.records import Datum


def to_wgs84(lat: float, lon: float, datum: Datum | str) -> tuple[float, float]:
    """A position written in `datum`, as (lat, lon) in WGS-84."""
    datum = Datum(datum)
    if datum is Datum.WGS84:
        return lat, lon
    # The obfuscation is applied only inside China's rough bounding box; outside it the
    # map services show WGS-84 as it is. prcoords would return the point unchanged there
    # too, but with a warning, which is noise in logs (and an error under pytest).
    if not prcoords.sanity_in_china_p(prcoords.Coords(lat, lon)):
        return lat, lon
    convert = prcoords.gcj_wgs_bored if datum is Datum.GCJ02 else prcoords.bd_wgs_bored
    wgs = convert((lat, lon))
    return float(wgs.lat), float(wgs.lon)
