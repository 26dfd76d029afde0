//! Geospatial commands (Redis 7.0's geo.c, geohash.c, geohash_helper.c):
//! GEOADD, GEODIST, GEOHASH, GEOPOS, GEORADIUS[BYMEMBER][_RO], GEOSEARCH
//! and GEOSEARCHSTORE.
//!
//! A geo set is a sorted set whose scores are 52-bit geohashes: longitude
//! and latitude, each scaled to 26 bits over [-180, 180] and
//! [-85.05112878, 85.05112878], interleaved (latitude in the even bits).
//! GEOADD is ZADD with those scores, so everything a sorted set does
//! (encodings, events, TYPE) applies. A search estimates a geohash
//! precision from the radius, then walks the score ranges of the centre
//! cell and its 8 neighbours (an O(log n) seek each) and keeps the points
//! inside the shape.
//!
//! Every step is Redis's arithmetic, operation for operation, so that
//! which cells are searched, which points fall inside, and the digits of
//! every distance are the same: `f64` here is C's `double`, and `sin`,
//! `cos`, `asin` and `sqrt` are the platform's libm as in Redis. Sorting
//! by distance follows glibc's `qsort` (a stable merge sort) and, when
//! COUNT cuts the result, Redis's own `pqsort`, so ties come out in
//! Redis's order.

use std::fmt::Write;

use bytes::Bytes;
use shoal_resp::Reply;

use super::zset::{limits, store_result, zadd};
use super::{float_arg, int_arg, is, spec, CommandSpec};
use crate::error::{Error, Result};
use crate::types::ZSet;
use crate::{Ctx, Value};

const G: &str = "geo";

/// The geo family's commands.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec("geoadd", -5, "write denyoom", (1, 1, 1), G,
        "Add one or more geospatial items in the geospatial index represented using a sorted set", Some(geoadd)),
    spec("geodist", -4, "readonly", (1, 1, 1), G,
        "Returns the distance between two members of a geospatial index", Some(geodist)),
    spec("geohash", -2, "readonly", (1, 1, 1), G,
        "Returns members of a geospatial index as standard geohash strings", Some(geohash)),
    spec("geopos", -2, "readonly", (1, 1, 1), G,
        "Returns longitude and latitude of members of a geospatial index", Some(geopos)),
    spec("georadius", -6, "write denyoom movablekeys", (1, 1, 1), G,
        "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point", Some(georadius)),
    spec("georadiusbymember", -5, "write denyoom movablekeys", (1, 1, 1), G,
        "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member", Some(georadiusbymember)),
    spec("georadius_ro", -6, "readonly", (1, 1, 1), G,
        "A read-only variant for GEORADIUS", Some(georadius_ro)),
    spec("georadiusbymember_ro", -5, "readonly", (1, 1, 1), G,
        "A read-only variant for GEORADIUSBYMEMBER", Some(georadiusbymember_ro)),
    spec("geosearch", -7, "readonly", (1, 1, 1), G,
        "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.", Some(geosearch)),
    spec("geosearchstore", -8, "write denyoom", (1, 2, 1), G,
        "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.", Some(geosearchstore)),
];

/// GEORADIUS's and GEORADIUSBYMEMBER's keys as Redis 7.0's key specs find
/// them (COMMAND GETKEYS): the source key, then the argument after the
/// first `STORE` and after the first `STOREDIST` searched from `from` (the
/// first option's position), the last argument excluded.
pub(crate) fn radius_keys(args: &[&[u8]], from: usize) -> Vec<usize> {
    let mut keys = vec![1];
    for word in ["store", "storedist"] {
        let end = args.len().saturating_sub(1);
        if let Some(at) = (from..end).find(|&i| is(args[i], word)) {
            keys.push(at + 1);
        }
    }
    keys
}

// ------------------------------------------------------------ geohash core

/// 26 bits per coordinate: 52 bits fit a double's mantissa exactly.
const STEP_MAX: u8 = 26;
const LAT_MIN: f64 = -85.05112878;
const LAT_MAX: f64 = 85.05112878;
const LONG_MIN: f64 = -180.0;
const LONG_MAX: f64 = 180.0;
/// geohash_helper.c's `EARTH_RADIUS_IN_METERS`.
const EARTH_RADIUS_M: f64 = 6372797.560856;
/// geohash_helper.c's `MERCATOR_MAX`.
const MERCATOR_MAX: f64 = 20037726.37;
/// geohash_helper.c's `D_R`: `M_PI / 180.0`.
const D_R: f64 = std::f64::consts::PI / 180.0;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Range {
    min: f64,
    max: f64,
}

/// The ranges Redis indexes (EPSG:900913: no poles).
const WGS84: (Range, Range) = (
    Range {
        min: LONG_MIN,
        max: LONG_MAX,
    },
    Range {
        min: LAT_MIN,
        max: LAT_MAX,
    },
);

/// A geohash of `step` bits per coordinate; all zero is Redis's "no cell"
/// (`HASHISZERO`), used for neighbours a search skips.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct HashBits {
    bits: u64,
    step: u8,
}

impl HashBits {
    fn is_zero(self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// Redis's `geohashAlign52Bits`: the hash as a 52-bit score prefix.
    fn align52(self) -> u64 {
        self.bits.wrapping_shl(u32::from(52 - self.step * 2))
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Area {
    long_min: f64,
    long_max: f64,
    lat_min: f64,
    lat_max: f64,
}

/// `x` in the even bits, `y` in the odd ones (Redis's `interleave64`).
fn interleave64(x: u32, y: u32) -> u64 {
    const B: [u64; 5] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
    ];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let mut x = u64::from(x);
    let mut y = u64::from(y);
    for i in (0..5).rev() {
        x = (x | (x << S[i])) & B[i];
        y = (y | (y << S[i])) & B[i];
    }
    x | (y << 1)
}

/// The inverse of [`interleave64`]: even bits in the low word, odd bits in
/// the high word.
fn deinterleave64(interleaved: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
        0x00000000FFFFFFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let mut x = interleaved;
    let mut y = interleaved >> 1;
    for i in 0..6 {
        x = (x | (x >> S[i])) & B[i];
        y = (y | (y >> S[i])) & B[i];
    }
    x | (y << 32)
}

/// Redis's `geohashEncode`; `None` where it fails (coordinates outside
/// the indexable area or the given ranges).
fn encode(long_range: Range, lat_range: Range, long: f64, lat: f64, step: u8) -> Option<HashBits> {
    if step > 32 || step == 0 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&long) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_range.min || lat > lat_range.max || long < long_range.min || long > long_range.max
    {
        return None;
    }
    let mut lat_offset = (lat - lat_range.min) / (lat_range.max - lat_range.min);
    let mut long_offset = (long - long_range.min) / (long_range.max - long_range.min);
    lat_offset *= (1u64 << step) as f64;
    long_offset *= (1u64 << step) as f64;
    // C converts to uint32_t: the offsets are in [0, 2^step] here.
    Some(HashBits {
        bits: interleave64(lat_offset as u32, long_offset as u32),
        step,
    })
}

fn encode_wgs84(long: f64, lat: f64, step: u8) -> Option<HashBits> {
    encode(WGS84.0, WGS84.1, long, lat, step)
}

/// Redis's `geohashDecode`: the cell a hash names. `None` for the zero
/// hash.
fn decode(long_range: Range, lat_range: Range, hash: HashBits) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let step = u32::from(hash.step);
    let sep = deinterleave64(hash.bits);
    let lat_scale = lat_range.max - lat_range.min;
    let long_scale = long_range.max - long_range.min;
    let ilato = sep as u32;
    let ilono = (sep >> 32) as u32;
    let cells = 1u64.wrapping_shl(step) as f64;
    // As C: `ilato + 1` is unsigned arithmetic and wraps.
    Some(Area {
        lat_min: lat_range.min + (f64::from(ilato) / cells) * lat_scale,
        lat_max: lat_range.min + (f64::from(ilato.wrapping_add(1)) / cells) * lat_scale,
        long_min: long_range.min + (f64::from(ilono) / cells) * long_scale,
        long_max: long_range.min + (f64::from(ilono.wrapping_add(1)) / cells) * long_scale,
    })
}

/// C's `(uint64_t)score` as gcc compiles it for x86-64: in-range values
/// truncate; out of range ones (negative, huge, infinite) give what the
/// `cvttsd2si` sequence gives rather than undefined behaviour.
fn score_bits(score: f64) -> u64 {
    const TWO63: f64 = 9223372036854775808.0;
    fn cvtt(v: f64) -> i64 {
        if (-TWO63..TWO63).contains(&v) {
            v as i64
        } else {
            i64::MIN
        }
    }
    if score < TWO63 {
        cvtt(score) as u64
    } else {
        (cvtt(score - TWO63) as u64) ^ (1 << 63)
    }
}

/// Redis's `decodeGeohash`: a score's point, the centre of its 26-bit
/// cell, clamped to the indexable area. Any score decodes.
fn decode_score(score: f64) -> [f64; 2] {
    let hash = HashBits {
        bits: score_bits(score),
        step: STEP_MAX,
    };
    let area = decode(WGS84.0, WGS84.1, hash).unwrap_or_default();
    let long = ((area.long_min + area.long_max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.lat_min + area.lat_max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    [long, lat]
}

/// The 52-bit score GEOADD stores for a point.
fn point_score(long: f64, lat: f64) -> u64 {
    encode_wgs84(long, lat, STEP_MAX)
        .unwrap_or_default()
        .align52()
}

/// `mask >> (64 - step * 2)`: the mask's lowest `step * 2` bits (none for
/// step 0, where C's shift by 64 would be undefined).
fn low_bits(mask: u64, step: u8) -> u64 {
    mask.checked_shr(64 - u32::from(step.min(32)) * 2)
        .unwrap_or(0)
}

fn move_x(hash: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let mut x = hash.bits & 0xaaaaaaaaaaaaaaaa;
    let y = hash.bits & 0x5555555555555555;
    let zz = low_bits(0x5555555555555555, hash.step);
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= low_bits(0xaaaaaaaaaaaaaaaa, hash.step);
    hash.bits = x | y;
}

fn move_y(hash: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let x = hash.bits & 0xaaaaaaaaaaaaaaaa;
    let mut y = hash.bits & 0x5555555555555555;
    let zz = low_bits(0xaaaaaaaaaaaaaaaa, hash.step);
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= low_bits(0x5555555555555555, hash.step);
    hash.bits = x | y;
}

/// A cell's 8 neighbours (wrapping around at the edges), in the order
/// Redis searches them: N, S, E, W, NE, NW, SE, SW.
fn neighbors(hash: HashBits) -> [HashBits; 8] {
    let dirs: [(i8, i8); 8] = [
        (0, 1),
        (0, -1),
        (1, 0),
        (-1, 0),
        (1, 1),
        (-1, 1),
        (1, -1),
        (-1, -1),
    ];
    dirs.map(|(dx, dy)| {
        let mut h = hash;
        move_x(&mut h, dx);
        move_y(&mut h, dy);
        h
    })
}

const NORTH: usize = 0;
const SOUTH: usize = 1;
const EAST: usize = 2;
const WEST: usize = 3;
const NORTH_EAST: usize = 4;
const NORTH_WEST: usize = 5;
const SOUTH_EAST: usize = 6;
const SOUTH_WEST: usize = 7;

fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}

fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// Redis's `geohashEstimateStepsByRadius`: the coarsest precision whose
/// cells still cover a radius, one less near the poles.
fn estimate_steps(mut range_m: f64, lat: f64) -> u8 {
    if range_m == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    // A positive radius doubles past MERCATOR_MAX within ~1,100 rounds.
    while range_m < MERCATOR_MAX {
        range_m *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// Haversine distance in meters (Redis's `geohashGetLatDistance`: along a
/// meridian).
fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Redis's `geohashGetDistance`: haversine on a sphere of Redis's radius.
fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum ShapeKind {
    Circle { radius: f64 },
    Box { width: f64, height: f64 },
}

/// A search area (Redis's `GeoShape`): its centre, size in `conversion`
/// units, and the meters per unit.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Shape {
    kind: ShapeKind,
    xy: [f64; 2],
    conversion: f64,
}

impl Shape {
    /// Redis's `geohashBoundingBox`: min long, min lat, max long, max lat.
    fn bounds(&self) -> [f64; 4] {
        let [long, lat] = self.xy;
        let (height, width) = match self.kind {
            ShapeKind::Circle { radius } => (radius, radius),
            ShapeKind::Box { width, height } => (height / 2.0, width / 2.0),
        };
        let (height, width) = (self.conversion * height, self.conversion * width);
        let lat_delta = rad_deg(height / EARTH_RADIUS_M);
        let long_delta_top = rad_deg(width / EARTH_RADIUS_M / deg_rad(lat + lat_delta).cos());
        let long_delta_bottom = rad_deg(width / EARTH_RADIUS_M / deg_rad(lat - lat_delta).cos());
        let long_delta = if lat < 0.0 {
            long_delta_bottom
        } else {
            long_delta_top
        };
        [
            long - long_delta,
            lat - lat_delta,
            long + long_delta,
            lat + lat_delta,
        ]
    }

    /// Redis's `geoWithinShape` after decoding: the distance from the
    /// centre (in meters) if the point is inside.
    fn contains(&self, x2: f64, y2: f64) -> Option<f64> {
        let [x1, y1] = self.xy;
        match self.kind {
            ShapeKind::Circle { radius } => {
                let d = distance(x1, y1, x2, y2);
                (d <= radius * self.conversion || d.is_nan()).then_some(d)
            }
            ShapeKind::Box { width, height } => {
                let (width_m, height_m) = (width * self.conversion, height * self.conversion);
                // Not `<=`: NaN passes Redis's `>` checks.
                if lat_distance(y2, y1) > height_m / 2.0 {
                    return None;
                }
                if distance(x2, y2, x1, y2) > width_m / 2.0 {
                    return None;
                }
                Some(distance(x1, y1, x2, y2))
            }
        }
    }

    /// Redis's `geohashCalculateAreasByShapeWGS84`: the centre cell and
    /// the neighbours that can hold points of the shape, in search order
    /// (zero for the skipped ones).
    fn cells(&self) -> [HashBits; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let [long, lat] = self.xy;
        let radius_m = match self.kind {
            ShapeKind::Circle { radius } => radius,
            ShapeKind::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.conversion;
        let mut steps = estimate_steps(radius_m, lat);
        let mut hash = encode_wgs84(long, lat, steps).unwrap_or_default();
        let mut near = neighbors(hash);
        let cell = |h: HashBits| decode(WGS84.0, WGS84.1, h).unwrap_or_default();
        let decrease = cell(near[NORTH]).lat_max < max_lat
            || cell(near[SOUTH]).lat_min > min_lat
            || cell(near[EAST]).long_max < max_lon
            || cell(near[WEST]).long_min > min_lon;
        if steps > 1 && decrease {
            steps -= 1;
            hash = encode_wgs84(long, lat, steps).unwrap_or_default();
            near = neighbors(hash);
        }
        let area = cell(hash);
        if steps >= 2 {
            let zero = HashBits::default();
            if area.lat_min < min_lat {
                for i in [SOUTH, SOUTH_WEST, SOUTH_EAST] {
                    near[i] = zero;
                }
            }
            if area.lat_max > max_lat {
                for i in [NORTH, NORTH_EAST, NORTH_WEST] {
                    near[i] = zero;
                }
            }
            if area.long_min < min_lon {
                for i in [WEST, SOUTH_WEST, NORTH_WEST] {
                    near[i] = zero;
                }
            }
            if area.long_max > max_lon {
                for i in [EAST, SOUTH_EAST, NORTH_EAST] {
                    near[i] = zero;
                }
            }
        }
        [
            hash,
            near[NORTH],
            near[SOUTH],
            near[EAST],
            near[WEST],
            near[NORTH_EAST],
            near[NORTH_WEST],
            near[SOUTH_EAST],
            near[SOUTH_WEST],
        ]
    }
}

// ------------------------------------------------------------- searching

/// A point found by a search (Redis's `geoPoint`).
#[derive(Clone, Copy, Debug)]
struct Point<'z> {
    member: &'z [u8],
    score: f64,
    xy: [f64; 2],
    /// From the centre, in meters.
    dist: f64,
}

/// Redis's `geoGetPointsInRange`: the points with scores in `[min, max)`
/// that are inside `shape`, stopping once `limit` (0: none) points are
/// found.
fn points_in_range<'z>(
    z: &'z ZSet,
    min: f64,
    max: f64,
    shape: &Shape,
    found: &mut Vec<Point<'z>>,
    limit: usize,
) {
    if min >= max {
        return;
    }
    let start = z.partition_score(|s| s < min);
    if start >= z.len() {
        return;
    }
    let mut cur = z.seek(start);
    for rank in start..z.len() {
        let (member, score) = z.get(cur);
        if score >= max {
            break;
        }
        let xy = decode_score(score);
        if let Some(dist) = shape.contains(xy[0], xy[1]) {
            found.push(Point {
                member,
                score,
                xy,
                dist,
            });
        }
        if limit != 0 && found.len() >= limit {
            break;
        }
        if rank + 1 < z.len() {
            z.next(&mut cur);
        }
    }
}

/// Redis's `membersOfAllNeighbors`: each cell's score range in turn,
/// skipping zero cells and a cell equal to the one searched just before
/// (huge radiuses make neighbours coincide).
fn search<'z>(z: &'z ZSet, shape: &Shape, limit: usize) -> Vec<Point<'z>> {
    let cells = shape.cells();
    let mut found = Vec::new();
    // As Redis's `last_processed`, where 0 also means "none yet".
    let mut last = 0;
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_zero() {
            continue;
        }
        if last != 0 && *cell == cells[last] {
            continue;
        }
        if limit != 0 && found.len() >= limit {
            break;
        }
        let min = cell.align52() as f64;
        let max = HashBits {
            bits: cell.bits.wrapping_add(1),
            step: cell.step,
        }
        .align52() as f64;
        points_in_range(z, min, max, shape, &mut found, limit);
        last = i;
    }
    found
}

/// Redis's `sort_gp_asc` (and, negated, `sort_gp_desc`): a C comparator
/// on distances, so NaN compares "less" both ways, as there.
fn cmp_dist(a: &Point<'_>, b: &Point<'_>, desc: bool) -> i32 {
    let c = if a.dist > b.dist {
        1
    } else if a.dist == b.dist {
        0
    } else {
        -1
    };
    if desc {
        -c
    } else {
        c
    }
}

/// glibc's `qsort` for this size of element: a top-down merge sort that
/// takes the left element on ties (stable).
fn merge_sort<'z>(v: &mut [Point<'z>], tmp: &mut Vec<Point<'z>>, desc: bool) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    merge_sort(&mut v[..n1], tmp, desc);
    merge_sort(&mut v[n1..], tmp, desc);
    tmp.clear();
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp_dist(&v[i], &v[j], desc) <= 0 {
            tmp.push(v[i]);
            i += 1;
        } else {
            tmp.push(v[j]);
            j += 1;
        }
    }
    tmp.extend_from_slice(&v[i..n1]);
    // What is left of the right half is already in place.
    let done = tmp.len();
    v[..done].copy_from_slice(tmp);
}

/// Redis's `pqsort`: Bentley–McIlroy quicksort that only sorts the
/// partitions overlapping the ranks `[lrange, rrange]`, comparison for
/// comparison and swap for swap, so ties end up where Redis puts them.
fn pqsort(v: &mut [Point<'_>], lrange: usize, rrange: usize, desc: bool) {
    let cmp = |v: &[Point<'_>], a: usize, b: usize| cmp_dist(&v[a], &v[b], desc);
    let med3 = |v: &[Point<'_>], a: usize, b: usize, c: usize| {
        if cmp(v, a, b) < 0 {
            if cmp(v, b, c) < 0 {
                b
            } else if cmp(v, a, c) < 0 {
                c
            } else {
                a
            }
        } else if cmp(v, b, c) > 0 {
            b
        } else if cmp(v, a, c) < 0 {
            a
        } else {
            c
        }
    };
    let vecswap = |v: &mut [Point<'_>], a: usize, b: usize, n: usize| {
        for i in 0..n {
            v.swap(a + i, b + i);
        }
    };
    // Whether the partition [s, s + m) holds a rank of interest.
    let wanted =
        |s: usize, m: usize| !((lrange < s && rrange < s) || (lrange >= s + m && rrange >= s + m));
    let mut stack = vec![(0usize, v.len())];
    while let Some((mut a, mut n)) = stack.pop() {
        loop {
            if n < 7 {
                for pm in a + 1..a + n {
                    let mut pl = pm;
                    while pl > a && cmp(v, pl - 1, pl) > 0 {
                        v.swap(pl, pl - 1);
                        pl -= 1;
                    }
                }
                break;
            }
            let mut pm = a + n / 2;
            if n > 7 {
                let mut pl = a;
                let mut pn = a + n - 1;
                if n > 40 {
                    let d = n / 8;
                    pl = med3(v, pl, pl + d, pl + 2 * d);
                    pm = med3(v, pm - d, pm, pm + d);
                    pn = med3(v, pn - 2 * d, pn - d, pn);
                }
                pm = med3(v, pl, pm, pn);
            }
            v.swap(a, pm);
            let (mut pa, mut pb) = (a + 1, a + 1);
            // pc and pd may step to a - 1 + 1 = a at the lowest: kept
            // one above their C value to stay unsigned.
            let (mut pc, mut pd) = (a + n, a + n);
            loop {
                while pb < pc {
                    let r = cmp(v, pb, a);
                    if r > 0 {
                        break;
                    }
                    if r == 0 {
                        v.swap(pa, pb);
                        pa += 1;
                    }
                    pb += 1;
                }
                while pb < pc {
                    let r = cmp(v, pc - 1, a);
                    if r < 0 {
                        break;
                    }
                    if r == 0 {
                        v.swap(pc - 1, pd - 1);
                        pd -= 1;
                    }
                    pc -= 1;
                }
                if pb >= pc {
                    break;
                }
                v.swap(pb, pc - 1);
                pb += 1;
                pc -= 1;
            }
            // Back to C's element positions: pc_c = pc - 1, pd_c = pd - 1.
            let pn = a + n;
            let r = (pa - a).min(pb - pa);
            vecswap(v, a, pb - r, r);
            let r = (pd - pc).min(pn - pd);
            vecswap(v, pb, pn - r, r);
            let left = pb - pa;
            let right = pd - pc;
            if left > 1 && wanted(a, left) {
                stack.push((a, left));
            }
            if right > 1 && wanted(pn - right, right) {
                a = pn - right;
                n = right;
                continue;
            }
            break;
        }
    }
}

// --------------------------------------------------------------- replies

/// Redis's `addReplyDoubleDistance`: 4 decimals (`fixedpoint_d2string`),
/// always a bulk string. `text` is scratch space, reused across a reply.
fn distance_text(d: f64, text: &mut String) -> &[u8] {
    text.clear();
    if d == 0.0 {
        text.push_str("0.0000");
        return text.as_bytes();
    }
    // llrint: round half to even; NaN and out of range give LLONG_MIN.
    let r = (d * 10000.0).round_ties_even();
    let sv = if (-9223372036854775808.0..9223372036854775808.0).contains(&r) {
        r as i64
    } else {
        i64::MIN
    };
    let v = sv.unsigned_abs();
    let sign = if sv < 0 { "-" } else { "" };
    let _ = write!(text, "{sign}{}.{:04}", v / 10000, v % 10000);
    text.as_bytes()
}

/// Redis's `addReplyHumanLongDouble`: `%.17Lf` with trailing zeros cut,
/// a bulk string in RESP2 and a double in RESP3. `text` is scratch space.
fn reply_human(reply: &mut Reply<'_>, v: f64, text: &mut String) {
    text.clear();
    if v.is_infinite() {
        text.push_str(if v > 0.0 { "inf" } else { "-inf" });
    } else {
        let _ = write!(text, "{v:.17}");
        let trimmed = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(trimmed);
        if text == "-0" {
            text.replace_range(.., "0");
        }
    }
    if reply.is_resp3() {
        reply.raw(b",");
        reply.raw(text.as_bytes());
        reply.raw(b"\r\n");
    } else {
        reply.bulk(text.as_bytes());
    }
}

// -------------------------------------------------------------- arguments

fn err(msg: &str) -> Error {
    Error::Other(msg.into())
}

/// Redis's `extractLongLatOrReply`.
fn lonlat_arg(args: &[Bytes]) -> Result<[f64; 2]> {
    let long = float_arg(&args[0])?;
    let lat = float_arg(&args[1])?;
    if !(LONG_MIN..=LONG_MAX).contains(&long) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return Err(Error::Other(format!(
            "invalid longitude,latitude pair {long:.6},{lat:.6}"
        )));
    }
    Ok([long, lat])
}

/// Redis's `extractUnitOrReply`: meters per unit.
fn unit_arg(arg: &[u8]) -> Result<f64> {
    if is(arg, "m") {
        Ok(1.0)
    } else if is(arg, "km") {
        Ok(1000.0)
    } else if is(arg, "ft") {
        Ok(0.3048)
    } else if is(arg, "mi") {
        Ok(1609.34)
    } else {
        Err(err("unsupported unit provided. please use M, KM, FT, MI"))
    }
}

/// A double with Redis's custom error (`getDoubleFromObjectOrReply` with a
/// message).
fn float_or(arg: &[u8], msg: &str) -> Result<f64> {
    float_arg(arg).map_err(|_| err(msg))
}

/// Redis's `extractDistanceOrReply`: (meters per unit, radius).
fn radius_arg(args: &[Bytes]) -> Result<(f64, f64)> {
    let radius = float_or(&args[0], "need numeric radius")?;
    if radius < 0.0 {
        return Err(err("radius cannot be negative"));
    }
    Ok((unit_arg(&args[1])?, radius))
}

/// Redis's `extractBoxOrReply`: (meters per unit, width, height).
fn box_arg(args: &[Bytes]) -> Result<(f64, f64, f64)> {
    let width = float_or(&args[0], "need numeric width")?;
    let height = float_or(&args[1], "need numeric height")?;
    if height < 0.0 || width < 0.0 {
        return Err(err("height or width cannot be negative"));
    }
    Ok((unit_arg(&args[2])?, width, height))
}

/// The sorted set at `key` as a lookup for reading: counts the hit or
/// miss once; WRONGTYPE for other types. Later accesses use [`peek`].
fn lookup(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<bool> {
    match ctx.read(key) {
        None => Ok(false),
        Some(Value::ZSet(_)) => Ok(true),
        Some(_) => Err(Error::WrongType),
    }
}

/// The sorted set at `key`, already looked up, without touching stats.
fn peek<'c>(ctx: &'c Ctx<'_>, key: &[u8]) -> Option<&'c ZSet> {
    match ctx.store.dbs[ctx.db].keys.get(key).map(|e| &e.value) {
        Some(Value::ZSet(z)) => Some(&z.data),
        _ => None,
    }
}

// --------------------------------------------------------------- commands

/// GEOADD key [NX|XX] [CH] long lat member …: ZADD with geohash scores,
/// logged as that ZADD (Redis replaces the command vector).
fn geoadd(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let (mut nx, mut xx) = (false, false);
    let mut longidx = 2;
    while longidx < args.len() {
        let opt = &args[longidx];
        if is(opt, "nx") {
            nx = true;
        } else if is(opt, "xx") {
            xx = true;
        } else if !is(opt, "ch") {
            break;
        }
        longidx += 1;
    }
    if (args.len() - longidx) % 3 != 0 || (xx && nx) {
        return Err(Error::Syntax);
    }
    let elements = (args.len() - longidx) / 3;
    let mut zargs = Vec::with_capacity(longidx + elements * 2);
    zargs.push(Bytes::from_static(b"zadd"));
    zargs.extend_from_slice(&args[1..longidx]);
    for point in args[longidx..].chunks_exact(3) {
        let [long, lat] = lonlat_arg(point)?;
        let mut digits = itoa::Buffer::new();
        let score = digits.format(point_score(long, lat));
        zargs.push(Bytes::copy_from_slice(score.as_bytes()));
        zargs.push(point[2].clone());
    }
    zadd(ctx, reply, &zargs)?;
    ctx.propagate_instead(zargs);
    Ok(())
}

/// GEODIST key member1 member2 [unit].
fn geodist(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let to_meter = match args.len() {
        4 => 1.0,
        5 => unit_arg(&args[4])?,
        _ => return Err(Error::Syntax),
    };
    if !lookup(ctx, &args[1])? {
        reply.null();
        return Ok(());
    }
    let z = peek(ctx, &args[1]).expect("looked up");
    match (z.score(&args[2]), z.score(&args[3])) {
        (Some(a), Some(b)) => {
            let [x1, y1] = decode_score(a);
            let [x2, y2] = decode_score(b);
            let mut text = String::new();
            reply.bulk(distance_text(
                distance(x1, y1, x2, y2) / to_meter,
                &mut text,
            ));
        }
        _ => reply.null(),
    }
    Ok(())
}

/// GEOHASH key member …: standard 11-character geohashes (re-encoded over
/// latitude ±90, the standard range, with a zero 11th character).
fn geohash(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let exists = lookup(ctx, &args[1])?;
    let z = if exists { peek(ctx, &args[1]) } else { None };
    reply.array(args.len() - 2);
    for member in &args[2..] {
        let Some(score) = z.and_then(|z| z.score(member)) else {
            reply.null();
            continue;
        };
        let [long, lat] = decode_score(score);
        let standard = (
            Range {
                min: -180.0,
                max: 180.0,
            },
            Range {
                min: -90.0,
                max: 90.0,
            },
        );
        let bits = encode(standard.0, standard.1, long, lat, STEP_MAX)
            .unwrap_or_default()
            .bits;
        let mut text = [b'0'; 11];
        for (i, c) in text.iter_mut().enumerate().take(10) {
            *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
        }
        reply.bulk(&text);
    }
    Ok(())
}

/// GEOPOS key member …: each member's `[long, lat]`, or a null array.
fn geopos(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let exists = lookup(ctx, &args[1])?;
    let z = if exists { peek(ctx, &args[1]) } else { None };
    let mut text = String::new();
    reply.array(args.len() - 2);
    for member in &args[2..] {
        match z.and_then(|z| z.score(member)) {
            Some(score) => {
                let [long, lat] = decode_score(score);
                reply.array(2);
                reply_human(reply, long, &mut text);
                reply_human(reply, lat, &mut text);
            }
            None => reply.null_array(),
        }
    }
    Ok(())
}

/// Which search command runs (Redis's `georadiusGeneric` flags).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Search {
    /// GEORADIUS[_RO]: around coordinates.
    Coords { store: bool },
    /// GEORADIUSBYMEMBER[_RO]: around a member.
    Member { store: bool },
    /// GEOSEARCH / GEOSEARCHSTORE.
    Generic { store: bool },
}

fn georadius(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    search_generic(ctx, reply, args, 1, Search::Coords { store: true })
}

fn georadiusbymember(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    search_generic(ctx, reply, args, 1, Search::Member { store: true })
}

fn georadius_ro(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    search_generic(ctx, reply, args, 1, Search::Coords { store: false })
}

fn georadiusbymember_ro(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    search_generic(ctx, reply, args, 1, Search::Member { store: false })
}

fn geosearch(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    search_generic(ctx, reply, args, 1, Search::Generic { store: false })
}

fn geosearchstore(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    search_generic(ctx, reply, args, 2, Search::Generic { store: true })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// A search as Redis's `georadiusGeneric` has it after reading its
/// arguments.
struct Query<'a> {
    shape: Shape,
    /// The destination, and whether it stores distances (STOREDIST).
    store: Option<(&'a Bytes, bool)>,
    withdist: bool,
    withhash: bool,
    withcoords: bool,
    /// ASC when COUNT was given without ANY or an order.
    sort: Sort,
    /// 0: no COUNT.
    count: i64,
    any: bool,
}

/// Reads a search's arguments in Redis's order and with its errors: the
/// centre and size first (GEORADIUS*), then the options, then the checks
/// across options. `exists`: whether the source key holds a sorted set
/// (a missing one skips the member lookups, not the other checks).
fn parse_search<'a>(
    ctx: &Ctx<'_>,
    args: &'a [Bytes],
    key: &[u8],
    exists: bool,
    kind: Search,
) -> Result<Query<'a>> {
    let mut shape = Shape {
        kind: ShapeKind::Circle { radius: 0.0 },
        xy: [0.0; 2],
        conversion: 0.0,
    };
    let member_xy = |member: &[u8]| {
        peek(ctx, key)
            .and_then(|z| z.score(member))
            .map(decode_score)
            .ok_or_else(|| err("could not decode requested zset member"))
    };
    let mut storekey: Option<&Bytes> = None;
    let generic = matches!(kind, Search::Generic { .. });
    let base = match kind {
        Search::Coords { .. } => {
            shape.xy = lonlat_arg(&args[2..4])?;
            let (conversion, radius) = radius_arg(&args[4..6])?;
            shape.conversion = conversion;
            shape.kind = ShapeKind::Circle { radius };
            6
        }
        Search::Member { .. } if !exists => 5,
        Search::Member { .. } => {
            shape.xy = member_xy(&args[2])?;
            let (conversion, radius) = radius_arg(&args[3..5])?;
            shape.conversion = conversion;
            shape.kind = ShapeKind::Circle { radius };
            5
        }
        Search::Generic { store } => {
            if store {
                storekey = Some(&args[1]);
                3
            } else {
                2
            }
        }
    };
    // May a GEORADIUS variant take STORE / STOREDIST?
    let radius_store = matches!(
        kind,
        Search::Coords { store: true } | Search::Member { store: true }
    );
    let searchstore = kind == Search::Generic { store: true };
    let (mut withdist, mut withhash, mut withcoords) = (false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut any = false;
    let mut storedist = false;
    let mut count: i64 = 0;
    let opts = &args[base.min(args.len())..];
    let remaining = opts.len();
    let mut i = 0;
    while i < remaining {
        let arg = &opts[i];
        if is(arg, "withdist") {
            withdist = true;
        } else if is(arg, "withhash") {
            withhash = true;
        } else if is(arg, "withcoord") {
            withcoords = true;
        } else if is(arg, "any") {
            any = true;
        } else if is(arg, "asc") {
            sort = Sort::Asc;
        } else if is(arg, "desc") {
            sort = Sort::Desc;
        } else if is(arg, "count") && i + 1 < remaining {
            count = int_arg(&opts[i + 1])?;
            if count <= 0 {
                return Err(err("COUNT must be > 0"));
            }
            i += 1;
        } else if (is(arg, "store") || is(arg, "storedist")) && i + 1 < remaining && radius_store {
            storekey = Some(&opts[i + 1]);
            storedist = is(arg, "storedist");
            i += 1;
        } else if is(arg, "storedist") && searchstore {
            storedist = true;
        } else if is(arg, "frommember") && i + 1 < remaining && generic && !fromloc {
            // Without a source key the member is not looked up: the reply
            // depends on the remaining options.
            if exists {
                shape.xy = member_xy(&opts[i + 1])?;
            }
            frommember = true;
            i += 1;
        } else if is(arg, "fromlonlat") && i + 2 < remaining && generic && !frommember {
            shape.xy = lonlat_arg(&opts[i + 1..i + 3])?;
            fromloc = true;
            i += 2;
        } else if is(arg, "byradius") && i + 2 < remaining && generic && !bybox {
            let (conversion, radius) = radius_arg(&opts[i + 1..i + 3])?;
            shape.conversion = conversion;
            shape.kind = ShapeKind::Circle { radius };
            byradius = true;
            i += 2;
        } else if is(arg, "bybox") && i + 3 < remaining && generic && !byradius {
            let (conversion, width, height) = box_arg(&opts[i + 1..i + 4])?;
            shape.conversion = conversion;
            shape.kind = ShapeKind::Box { width, height };
            bybox = true;
            i += 3;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if storekey.is_some() && (withdist || withhash || withcoords) {
        return Err(Error::Other(format!(
            "{} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if searchstore {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        )));
    }
    let name = String::from_utf8_lossy(&args[0]);
    if generic && !(frommember || fromloc) {
        return Err(Error::Other(format!(
            "exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if generic && !(byradius || bybox) {
        return Err(Error::Other(format!(
            "exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if any && count == 0 {
        return Err(err("the ANY argument requires COUNT argument"));
    }
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    Ok(Query {
        shape,
        store: storekey.map(|k| (k, storedist)),
        withdist,
        withhash,
        withcoords,
        sort,
        count,
        any,
    })
}

/// Redis's `georadiusGeneric`: the source key's type is checked first,
/// then the arguments are read, the cells searched, the points sorted,
/// and the result replied or stored.
fn search_generic(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    args: &[Bytes],
    src: usize,
    kind: Search,
) -> Result {
    let key = &args[src];
    let exists = lookup(ctx, key)?;
    let Query {
        shape,
        store,
        withdist,
        withhash,
        withcoords,
        sort,
        count,
        any,
    } = parse_search(ctx, args, key, exists, kind)?;
    let generic = matches!(kind, Search::Generic { .. });
    let event = if generic {
        "geosearchstore"
    } else {
        "georadiusstore"
    };
    if !exists {
        match store {
            Some((dst, _)) => {
                store_result(ctx, dst, None, event);
                reply.integer(0);
            }
            None => reply.array(0),
        }
        return Ok(());
    }
    let limit = if any {
        usize::try_from(count).unwrap_or(usize::MAX)
    } else {
        0
    };
    let (max_entries, max_value) = limits(ctx);
    let z = peek(ctx, key).expect("looked up");
    let mut points = search(z, &shape, limit);
    if points.is_empty() && store.is_none() {
        reply.array(0);
        return Ok(());
    }
    let result_length = points.len();
    let returned = match usize::try_from(count) {
        Ok(c) if c != 0 && c < result_length => c,
        _ => result_length,
    };
    if sort != Sort::None {
        let desc = sort == Sort::Desc;
        if returned == result_length {
            let mut tmp = Vec::with_capacity(points.len());
            merge_sort(&mut points, &mut tmp, desc);
        } else {
            pqsort(&mut points, 0, returned - 1, desc);
        }
    }
    let points = &points[..returned];
    let Some((dst, storedist)) = store else {
        let options = usize::from(withdist) + usize::from(withhash) + usize::from(withcoords);
        let mut text = String::new();
        reply.array(returned);
        for p in points {
            if options > 0 {
                reply.array(options + 1);
            }
            reply.bulk(p.member);
            if withdist {
                reply.bulk(distance_text(p.dist / shape.conversion, &mut text));
            }
            if withhash {
                reply.integer(p.score as i64);
            }
            if withcoords {
                reply.array(2);
                reply_human(reply, p.xy[0], &mut text);
                reply_human(reply, p.xy[1], &mut text);
            }
        }
        return Ok(());
    };
    let out = (returned > 0).then(|| {
        let mut out = ZSet::Skiplist(Box::default());
        for p in points {
            let score = if storedist {
                p.dist / shape.conversion
            } else {
                p.score
            };
            // Redis asserts both (a NaN distance, a repeated member) never
            // happen; here they are skipped rather than trusted.
            if !score.is_nan() && out.score(p.member).is_none() {
                out.insert(p.member, score, usize::MAX, usize::MAX);
            }
        }
        out.convert_to_listpack_if_fits(max_entries, max_value);
        out
    });
    store_result(ctx, dst, out, event);
    if returned > 0 {
        // Redis counts one change per stored member; `set` counted one.
        ctx.store.dirty += returned as u64 - 1;
    }
    reply.integer(returned as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{execute, lookup_command, Store};
    use shoal_resp::Protocol;

    fn run(store: &mut Store, line: &str) -> String {
        let args: Vec<Bytes> = line
            .split(' ')
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let spec = lookup_command(&args[0]).expect("known command");
        let mut out = Vec::new();
        let mut ctx = Ctx::new(store, 0, 1_700_000_000_000, 1);
        let mut reply = Reply::new(&mut out, Protocol::Resp2);
        if let Err(e) = execute(spec, &mut ctx, &mut reply, &args) {
            out = format!("-{e}\r\n").into_bytes();
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn encodes_points_as_redis_scores() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" 15.087269 37.502669
        // "Catania"; ZSCORE gives these on Redis 7.0.
        assert_eq!(point_score(13.361389, 38.115556), 3479099956230698);
        assert_eq!(point_score(15.087269, 37.502669), 3479447370796909);
        assert_eq!(point_score(-180.0, -85.05112878), 0);
    }

    #[test]
    fn decodes_to_cell_centres() {
        let [long, lat] = decode_score(3479099956230698.0);
        assert_eq!(format!("{long:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        // Any score decodes, clamped to the indexable area.
        assert_eq!(decode_score(-1.0), [180.0, LAT_MAX]);
        assert_eq!(decode_score(f64::INFINITY)[0], decode_score(0.0)[0]);
    }

    #[test]
    fn interleave_round_trips() {
        for (x, y) in [
            (0u32, 0u32),
            (1, 0),
            (0, 1),
            (0x3ffffff, 0x1234567),
            (u32::MAX, 7),
        ] {
            let sep = deinterleave64(interleave64(x, y));
            assert_eq!((sep as u32, (sep >> 32) as u32), (x, y));
        }
        assert_eq!(interleave64(1, 0), 1);
        assert_eq!(interleave64(0, 1), 2);
    }

    #[test]
    fn neighbours_wrap_and_move_one_cell() {
        let h = encode_wgs84(0.0, 0.0, 2).unwrap();
        let n = neighbors(h);
        let area = |h| decode(WGS84.0, WGS84.1, h).unwrap();
        let c = area(h);
        assert_eq!(area(n[NORTH]).lat_min, c.lat_max);
        assert_eq!(area(n[SOUTH]).lat_max, c.lat_min);
        assert_eq!(area(n[EAST]).long_min, c.long_max);
        assert_eq!(area(n[WEST]).long_max, c.long_min);
        // At step 1 the world is 2×2: north and south are the same cell.
        let h = encode_wgs84(10.0, 10.0, 1).unwrap();
        let n = neighbors(h);
        assert_eq!(n[NORTH], n[SOUTH]);
        assert_eq!(n[EAST], n[WEST]);
    }

    #[test]
    fn distances_match_redis() {
        // GEODIST Sicily Palermo Catania → 166274.1516 (m), 166.2742 km.
        let [x1, y1] = decode_score(3479099956230698.0);
        let [x2, y2] = decode_score(3479447370796909.0);
        let d = distance(x1, y1, x2, y2);
        assert_eq!(distance_text(d, &mut String::new()), b"166274.1516");
        assert_eq!(distance_text(d / 1000.0, &mut String::new()), b"166.2742");
        assert_eq!(distance_text(d / 1609.34, &mut String::new()), b"103.3182");
        assert_eq!(distance_text(0.0, &mut String::new()), b"0.0000");
        assert_eq!(distance_text(0.00005, &mut String::new()), b"0.0000");
        assert_eq!(distance_text(0.07751, &mut String::new()), b"0.0775");
        assert_eq!(
            distance_text(f64::NAN, &mut String::new()),
            b"-922337203685477.5808"
        );
        assert_eq!(lat_distance(0.0, 1.0), EARTH_RADIUS_M * D_R);
    }

    #[test]
    fn steps_follow_the_radius() {
        assert_eq!(estimate_steps(0.0, 0.0), 26);
        assert_eq!(estimate_steps(1.0, 0.0), 24);
        assert_eq!(estimate_steps(200_000.0, 0.0), 6);
        assert_eq!(estimate_steps(200_000.0, 70.0), 5);
        assert_eq!(estimate_steps(200_000.0, -85.0), 4);
        assert_eq!(estimate_steps(f64::INFINITY, 0.0), 1);
        assert_eq!(estimate_steps(f64::MIN_POSITIVE, 0.0), 26);
    }

    #[test]
    fn commands_reply_as_redis() {
        let mut s = Store::new(16);
        assert_eq!(
            run(
                &mut s,
                "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania"
            ),
            ":2\r\n"
        );
        assert_eq!(
            run(&mut s, "GEODIST Sicily Palermo Catania km"),
            "$8\r\n166.2742\r\n"
        );
        assert_eq!(
            run(&mut s, "GEOHASH Sicily Palermo Catania nope"),
            "*3\r\n$11\r\nsqc8b49rny0\r\n$11\r\nsqdtr74hyu0\r\n$-1\r\n"
        );
        assert_eq!(
            run(&mut s, "GEOPOS Sicily Palermo nope"),
            "*2\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*-1\r\n"
        );
        assert_eq!(
            run(&mut s, "GEORADIUS Sicily 15 37 200 km WITHDIST ASC"),
            "*2\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n*2\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n"
        );
        assert_eq!(
            run(&mut s, "GEOADD Sicily 181 10 x"),
            "-ERR invalid longitude,latitude pair 181.000000,10.000000\r\n"
        );
        assert_eq!(
            run(&mut s, "GEOSEARCH Sicily FROMMEMBER nope BYRADIUS 1 km ASC"),
            "-ERR could not decode requested zset member\r\n"
        );
        assert_eq!(
            run(&mut s, "geosearch Sicily BYRADIUS 1 km ASC ASC"),
            "-ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for geosearch\r\n"
        );
        assert_eq!(
            run(
                &mut s,
                "GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km STOREDIST"
            ),
            ":2\r\n"
        );
        assert_eq!(
            run(&mut s, "ZRANGE dst 0 -1 WITHSCORES"),
            "*4\r\n$7\r\nCatania\r\n$18\r\n56.441257870158204\r\n$7\r\nPalermo\r\n$18\r\n190.44242984775784\r\n"
        );
    }

    #[test]
    fn radius_keys_follow_key_specs() {
        let args: Vec<&[u8]> = vec![
            b"georadius",
            b"k",
            b"1",
            b"2",
            b"3",
            b"m",
            b"store",
            b"d",
            b"STOREDIST",
            b"e",
        ];
        assert_eq!(radius_keys(&args, 6), vec![1, 7, 9]);
        let args: Vec<&[u8]> = vec![b"georadius", b"k", b"1", b"2", b"3", b"m", b"store"];
        assert_eq!(radius_keys(&args, 6), vec![1]);
    }

    #[test]
    fn partial_sort_orders_the_head() {
        let members: Vec<Vec<u8>> = (0..200).map(|i| format!("m{i}").into_bytes()).collect();
        let mut seed = 7u64;
        let mut points: Vec<Point<'_>> = members
            .iter()
            .map(|m| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                Point {
                    member: m,
                    score: 0.0,
                    xy: [0.0; 2],
                    dist: ((seed >> 33) % 50) as f64,
                }
            })
            .collect();
        for n in [1usize, 5, 10, 100] {
            let mut v = points.clone();
            pqsort(&mut v, 0, n - 1, false);
            let mut all = points.clone();
            let mut tmp = Vec::new();
            merge_sort(&mut all, &mut tmp, false);
            let head: Vec<f64> = v[..n].iter().map(|p| p.dist).collect();
            let want: Vec<f64> = all[..n].iter().map(|p| p.dist).collect();
            assert_eq!(head, want);
        }
        let mut tmp = Vec::new();
        merge_sort(&mut points, &mut tmp, true);
        assert!(points.windows(2).all(|w| w[0].dist >= w[1].dist));
    }

    fn arg() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let words = [
            "g",
            "z",
            "a",
            "b",
            "0",
            "1",
            "-1",
            "13.36",
            "38.11",
            "180",
            "-180",
            "85.05112878",
            "-85.05112878",
            "181",
            "90",
            "inf",
            "-inf",
            "nan",
            "",
            "x",
            "1e308",
            "5e-324",
            "9223372036854775807",
            "-9223372036854775808",
            "m",
            "km",
            "ft",
            "mi",
            "NX",
            "XX",
            "CH",
            "WITHDIST",
            "WITHHASH",
            "WITHCOORD",
            "ASC",
            "DESC",
            "COUNT",
            "ANY",
            "STORE",
            "STOREDIST",
            "FROMMEMBER",
            "FROMLONLAT",
            "BYRADIUS",
            "BYBOX",
        ];
        prop_oneof![
            8 => proptest::sample::select(words.to_vec()).prop_map(|w| w.as_bytes().to_vec()),
            1 => proptest::collection::vec(any::<u8>(), 0..6),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Any argument list to any GEO command, over sets whose scores
        /// are geohashes or anything else: an answer or an error, never a
        /// panic.
        #[test]
        fn never_panics(cmds in proptest::collection::vec(
            (0..COMMANDS.len() + 1, proptest::collection::vec(arg(), 0..12)), 1..200)
        ) {
            let mut store = Store::new(1);
            store.config.zset_max_listpack_entries = 4;
            for (i, rest) in cmds {
                // One more "command": ZADD, for scores that are no geohash.
                let spec = COMMANDS.get(i).unwrap_or_else(|| lookup_command(b"zadd").unwrap());
                let mut args = vec![Bytes::from_static(spec.name.as_bytes())];
                args.extend(rest.into_iter().map(Bytes::from));
                let mut out = Vec::new();
                let mut ctx = Ctx::new(&mut store, 0, 1_700_000_000_000, 1);
                let protocol = if i % 3 == 0 { Protocol::Resp3 } else { Protocol::Resp2 };
                let mut reply = Reply::new(&mut out, protocol);
                let _ = execute(spec, &mut ctx, &mut reply, &args);
            }
        }
    }
}
