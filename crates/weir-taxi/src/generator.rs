//! The trip generator: one month of one taxi colour, written as a gzip-compressed CSV in the
//! public TLC layout.
//!
//! Rows are produced on one thread and compressed on another (chunks of about 1 MiB travel over
//! a bounded channel), so a full yellow month costs roughly max(generation, compression).
//! Every random choice comes from one [`Rng`] seeded from the spec, and nothing depends on the
//! clock or on thread timing, so the same spec always gives the same bytes.

use std::collections::HashSet;
use std::fs::{self, File};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::fmt::{
    month_end, month_start, push_datetime, push_fixed2, push_i64, push_money, weekday,
};
use crate::rng::{Rng, Weighted, splitmix64};
use crate::{GenStats, MonthSpec, Taxi, TaxiError, file_name};

/// Share of rows that repeat an earlier row verbatim.
pub(crate) const DUPLICATE_RATE: f64 = 0.01;
/// Share of new rows whose VendorID, passenger_count, RatecodeID and payment_type are empty.
pub(crate) const EMPTY_ID_RATE: f64 = 0.05;
/// gzip level: 3 compresses a yellow month to about 27 MB (the real one is about 21 MB) in
/// about the time generation takes; 1 is 1.5 times faster but 1.5 times bigger.
const GZIP_LEVEL: u32 = 3;
/// Uncompressed bytes per chunk handed to the compressing thread.
const CHUNK: usize = 1 << 20;
/// How many recent rows a duplicate may copy.
const RING: usize = 4096;

/// Which instant a trip is placed at.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Pickup where a share `.0` (in `[0, 1)`) of the month's trips has started.
    Normal(f64),
    /// Pickup late on the last evening of the month, dropoff in the next month.
    CrossMonth,
    /// Pickup a few hours before or after the month, as a handful of real rows have.
    Outside,
}

/// One trip, amounts in cents and the distance in hundredths of a mile.
struct Trip {
    vendor: Option<u8>,
    pickup: i64,
    dropoff: i64,
    passengers: Option<u8>,
    distance: i64,
    ratecode: Option<u8>,
    store_fwd: Option<u8>,
    pu: u16,
    dol: u16,
    payment: Option<u8>,
    fare: i64,
    extra: i64,
    mta: i64,
    tip: i64,
    tolls: i64,
    improvement: i64,
    total: i64,
    congestion: i64,
    trip_type: Option<u8>,
}

const RATECODES: [u8; 7] = [1, 2, 3, 4, 5, 6, 99];

/// Per-colour distributions.
struct Tables {
    /// Relative number of pickups in each hour of the day.
    hours: [u32; 24],
    zones: Weighted,
    ratecodes: Weighted,
    passengers: Weighted,
    payments: Weighted,
    tips: Weighted,
}

const TIP_PERCENT: [i64; 6] = [0, 10, 15, 20, 25, 30];

fn zone_weights(popular: &[(usize, u32)], base: u32) -> Weighted {
    // Index 0 is "zone 0", which does not exist.
    let mut w = vec![base; 266];
    w[0] = 0;
    // 264 and 265 are "Unknown" / "NV": they appear, but rarely.
    w[264] = 0;
    w[265] = 0;
    for &(zone, weight) in popular {
        w[zone] = weight;
    }
    Weighted::new(&w)
}

impl Tables {
    fn new(taxi: Taxi) -> Self {
        match taxi {
            Taxi::Yellow => Tables {
                hours: [
                    35, 25, 16, 10, 8, 10, 20, 40, 55, 60, 62, 65, 68, 70, 72, 75, 78, 82, 80, 70,
                    60, 55, 50, 45,
                ],
                zones: zone_weights(
                    &[
                        (237, 300),
                        (236, 300),
                        (161, 280),
                        (186, 220),
                        (162, 220),
                        (170, 200),
                        (230, 200),
                        (142, 200),
                        (239, 200),
                        (141, 200),
                        (163, 180),
                        (234, 180),
                        (48, 180),
                        (79, 170),
                        (68, 170),
                        (238, 160),
                        (107, 150),
                        (263, 150),
                        (140, 140),
                        (262, 130),
                        (164, 130),
                        (43, 120),
                        (132, 120),
                        (249, 120),
                        (113, 110),
                        (138, 100),
                        (90, 100),
                        (100, 100),
                        (229, 100),
                        (233, 90),
                        (151, 90),
                        (143, 80),
                        (231, 80),
                        (75, 70),
                        (74, 70),
                        (50, 60),
                        (158, 60),
                        (246, 60),
                        (137, 60),
                        (211, 50),
                        (114, 50),
                        (125, 50),
                        (144, 50),
                        (148, 50),
                        (166, 50),
                        (41, 50),
                        (13, 40),
                        (87, 40),
                        (88, 40),
                        (24, 40),
                        (42, 40),
                        (45, 30),
                        (4, 30),
                        (152, 30),
                        (116, 30),
                        (244, 30),
                        (127, 15),
                        (264, 60),
                        (265, 5),
                    ],
                    2,
                ),
                ratecodes: Weighted::new(&[9690, 220, 25, 30, 30, 1, 4]),
                passengers: Weighted::new(&[200, 7000, 1400, 400, 200, 450, 350]),
                payments: Weighted::new(&[7200, 2600, 100, 70, 1]),
                tips: Weighted::new(&[10, 5, 10, 40, 20, 15]),
            },
            Taxi::Green => Tables {
                hours: [
                    20, 14, 9, 6, 5, 8, 15, 30, 45, 52, 55, 57, 58, 60, 62, 63, 62, 62, 55, 45, 38,
                    33, 30, 26,
                ],
                zones: zone_weights(
                    &[
                        (74, 300),
                        (75, 280),
                        (41, 250),
                        (42, 200),
                        (166, 180),
                        (7, 150),
                        (82, 150),
                        (95, 140),
                        (97, 120),
                        (244, 120),
                        (129, 120),
                        (61, 110),
                        (65, 110),
                        (181, 100),
                        (260, 100),
                        (116, 100),
                        (226, 90),
                        (152, 90),
                        (25, 80),
                        (255, 80),
                        (256, 70),
                        (168, 70),
                        (247, 60),
                        (69, 60),
                        (236, 60),
                        (263, 50),
                        (43, 50),
                        (264, 40),
                        (265, 5),
                    ],
                    3,
                ),
                ratecodes: Weighted::new(&[9500, 30, 5, 10, 450, 1, 4]),
                passengers: Weighted::new(&[100, 8400, 800, 200, 100, 200, 200]),
                payments: Weighted::new(&[5200, 4500, 150, 80, 5]),
                tips: Weighted::new(&[15, 5, 10, 40, 20, 10]),
            },
        }
    }
}

struct Gen {
    taxi: Taxi,
    rng: Rng,
    start: i64,
    end: i64,
    /// Prefix sums, normalised to 1, of how busy each hour of the month is (hour of day ×
    /// day of week), so pickups can follow the file's order as they do in the real files.
    slots: Vec<f64>,
    /// The slot of the last lookup: rows come in pickup order, so the next is at or near it.
    cursor: usize,
    t: Tables,
}

/// How busy each day of the week is, Sunday first.
const WEEKDAY_FACTOR: [f64; 7] = [0.8, 0.95, 1.0, 1.0, 1.0, 1.05, 0.95];

/// The PRNG seed of a spec: every field of it goes in, so that changing any of them (the scale
/// too) gives another stream.
fn mix_seed(spec: &MonthSpec) -> u64 {
    let mut s = spec.seed ^ 0x7778_6569_722d_7461; // "weir-ta"
    let a = splitmix64(&mut s);
    let mut s2 = a
        ^ (spec.taxi as u64) << 56
        ^ (spec.year as i64 as u64) << 8
        ^ u64::from(spec.month)
        ^ spec.scale.to_bits().rotate_left(17);
    splitmix64(&mut s2)
}

impl Gen {
    fn new(spec: &MonthSpec) -> Self {
        let start = month_start(spec.year, spec.month);
        let end = month_end(spec.year, spec.month);
        let t = Tables::new(spec.taxi);
        let mut slots = Vec::with_capacity(((end - start) / 3600) as usize);
        let mut acc = 0.0;
        for slot in 0..(end - start) / 3600 {
            let hour = (slot % 24) as usize;
            let w = t.hours[hour];
            acc += f64::from(w) * WEEKDAY_FACTOR[weekday(start + slot * 3600) as usize];
            slots.push(acc);
        }
        for c in &mut slots {
            *c /= acc;
        }
        Gen {
            taxi: spec.taxi,
            rng: Rng::new(mix_seed(spec)),
            start,
            end,
            slots,
            cursor: 0,
            t,
        }
    }

    /// The first slot whose prefix sum exceeds `u` (the last one if none does).
    fn slot_of(&mut self, u: f64) -> usize {
        let last = self.slots.len() - 1;
        let mut i = self.cursor.min(last);
        while i < last && self.slots[i] <= u {
            i += 1;
        }
        while i > 0 && self.slots[i - 1] > u {
            i -= 1;
        }
        self.cursor = i;
        i
    }

    fn zone(&mut self) -> u16 {
        self.t.zones.pick(&mut self.rng) as u16
    }

    /// Typical speed in mph for a pickup at `hour`.
    fn speed(&mut self, hour: i64) -> f64 {
        let base = match hour {
            0..=5 => 20.0,
            6 | 7 | 20..=23 => 15.0,
            _ => 10.5,
        };
        (base * (1.0 + 0.25 * self.rng.normal())).clamp(3.0, 45.0)
    }

    fn trip(&mut self, kind: Kind, empty_ids: bool) -> Trip {
        let r = &mut self.rng;
        let green = self.taxi == Taxi::Green;
        let vendor = if r.chance(if green { 0.87 } else { 0.67 }) {
            2
        } else {
            1
        };
        let trip_type = if green && r.chance(0.03) { 2 } else { 1 };
        let mut ratecode = RATECODES[self.t.ratecodes.pick(r)];
        if trip_type == 2 {
            ratecode = 5;
        }
        let passengers = self.t.passengers.pick(r) as u8;
        let payment = self.t.payments.pick(r) as u8 + 1;
        let store_fwd = if vendor == 1 && r.chance(0.03) {
            b'Y'
        } else {
            b'N'
        };

        // Where.
        let mut pu = self.zone();
        let mut dol = self.zone();
        let r = &mut self.rng;
        match ratecode {
            2 => {
                if r.chance(0.5) {
                    pu = 132
                } else {
                    dol = 132
                }
            }
            3 => dol = 1,
            _ => {}
        }

        // When and how far.
        let pickup = match kind {
            Kind::Normal(u) => {
                // The instant where a share `u` of the month's trips has started.
                let slot = self.slot_of(u);
                let lo = if slot == 0 { 0.0 } else { self.slots[slot - 1] };
                let frac = ((u - lo) / (self.slots[slot] - lo)).clamp(0.0, 0.999_999);
                self.start + slot as i64 * 3600 + (frac * 3600.0) as i64
            }
            Kind::CrossMonth => self.end - r.range(60, 2400),
            Kind::Outside => {
                if r.chance(0.7) {
                    self.start - r.range(60, 6 * 3600)
                } else {
                    self.end + r.range(0, 3 * 3600)
                }
            }
        };
        let hour = pickup.rem_euclid(86_400) / 3600;
        let speed = self.speed(hour);
        let r = &mut self.rng;
        let (miles, duration) = if kind == Kind::CrossMonth {
            let duration = (self.end - pickup) + r.range(60, 1800);
            let miles = (duration as f64 / 3600.0 * speed).max(0.3);
            (miles, duration)
        } else {
            let miles = match ratecode {
                2 => 17.0 + 2.0 * r.normal(),
                3 => 17.0 + 1.5 * r.normal(),
                _ if r.chance(0.012) => 0.0,
                _ => {
                    let median: f64 = if green { 2.2 } else { 1.7 };
                    (median.ln() + 0.85 * r.normal()).exp()
                }
            }
            .clamp(0.0, 60.0);
            let duration = if miles == 0.0 {
                r.range(0, 600)
            } else {
                (miles / speed * 3600.0) as i64 + r.range(30, 240)
            };
            (miles, duration)
        };
        let distance = (miles * 100.0).round() as i64;
        let dropoff = pickup + duration;

        // What it cost.
        let minutes = duration as f64 / 60.0;
        let metered = 250 + ((250.0 * miles + 25.0 * minutes) / 50.0).round() as i64 * 50;
        let mut fare = match ratecode {
            2 => 5200,
            5 => r.range(10, 120) * 100,
            _ => metered,
        };
        let night = !(6..20).contains(&hour);
        let weekday_peak = (16..20).contains(&hour) && (1..=5).contains(&weekday(pickup));
        let mut extra = if ratecode == 2 || ratecode == 5 {
            0
        } else if night {
            50
        } else if weekday_peak {
            100
        } else {
            0
        };
        let mut mta = 50;
        if trip_type == 2 || (ratecode == 5 && r.chance(0.5)) {
            mta = 0;
            extra = 0;
        }
        let tolls = match ratecode {
            2 | 3 if r.chance(0.3) => 612,
            _ if r.chance(0.03) => 612,
            _ => 0,
        };
        let congestion = match self.taxi {
            Taxi::Yellow if r.chance(0.9) => 250,
            Taxi::Green if r.chance(0.25) => 275,
            _ => 0,
        };
        let improvement = 30;
        if payment == 3 && r.chance(0.1) {
            // A few "no charge" rows carry no fare at all.
            fare = 0;
            extra = 0;
            mta = 0;
        }
        let pays_by_card = if empty_ids {
            r.chance(0.3)
        } else {
            payment == 1
        };
        let tip = if pays_by_card {
            let pct = TIP_PERCENT[self.t.tips.pick(r)];
            ((fare + extra + mta + improvement + congestion + tolls) * pct + 50) / 100
        } else {
            0
        };
        let total = fare + extra + mta + tip + tolls + improvement + congestion;

        let keep = |v: u8| (!empty_ids).then_some(v);
        Trip {
            vendor: keep(vendor),
            pickup,
            dropoff,
            passengers: keep(passengers),
            distance,
            ratecode: keep(ratecode),
            store_fwd: keep(store_fwd),
            pu,
            dol,
            payment: keep(payment),
            fare,
            extra,
            mta,
            tip,
            tolls,
            improvement,
            total,
            congestion,
            trip_type: keep(trip_type),
        }
    }

    /// Appends `trip` as one CSV line, `\n` included.
    fn write(&self, t: &Trip, b: &mut Vec<u8>) {
        fn opt(b: &mut Vec<u8>, v: Option<u8>) {
            if let Some(v) = v {
                push_i64(b, i64::from(v));
            }
        }
        let c = |b: &mut Vec<u8>| b.push(b',');
        opt(b, t.vendor);
        c(b);
        push_datetime(b, t.pickup);
        c(b);
        push_datetime(b, t.dropoff);
        c(b);
        match self.taxi {
            Taxi::Yellow => {
                opt(b, t.passengers);
                c(b);
                push_fixed2(b, t.distance);
                c(b);
                opt(b, t.ratecode);
                c(b);
                if let Some(f) = t.store_fwd {
                    b.push(f);
                }
                c(b);
                push_i64(b, i64::from(t.pu));
                c(b);
                push_i64(b, i64::from(t.dol));
                c(b);
                opt(b, t.payment);
                c(b);
                push_money(b, t.fare);
                c(b);
                push_money(b, t.extra);
                c(b);
                push_money(b, t.mta);
                c(b);
                push_money(b, t.tip);
                c(b);
                push_money(b, t.tolls);
                c(b);
                push_money(b, t.improvement);
                c(b);
                push_money(b, t.total);
                c(b);
                push_money(b, t.congestion);
            }
            Taxi::Green => {
                if let Some(f) = t.store_fwd {
                    b.push(f);
                }
                c(b);
                opt(b, t.ratecode);
                c(b);
                push_i64(b, i64::from(t.pu));
                c(b);
                push_i64(b, i64::from(t.dol));
                c(b);
                opt(b, t.passengers);
                c(b);
                push_fixed2(b, t.distance);
                c(b);
                push_money(b, t.fare);
                c(b);
                push_money(b, t.extra);
                c(b);
                push_money(b, t.mta);
                c(b);
                push_money(b, t.tip);
                c(b);
                push_money(b, t.tolls);
                c(b);
                // ehail_fee: empty in every 2021 row.
                c(b);
                push_money(b, t.improvement);
                c(b);
                push_money(b, t.total);
                c(b);
                opt(b, t.payment);
                c(b);
                opt(b, t.trip_type);
                c(b);
                push_money(b, t.congestion);
            }
        }
        b.push(b'\n');
    }

    fn crosses_month(&self, t: &Trip) -> bool {
        let crosses = |edge: i64| t.pickup < edge && t.dropoff >= edge;
        crosses(self.start) || crosses(self.end)
    }
}

/// A 64-bit hash of a row's bytes. Equal rows always collide; unequal rows almost never do,
/// and when they do the only effect is that a row is drawn again.
fn row_hash(b: &[u8]) -> u64 {
    let mut h = 0x243F_6A88_85A3_08D3 ^ b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(a))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
    let mut a = [0u8; 8];
    a[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h ^= u64::from_le_bytes(a);
    splitmix64(&mut h)
}

/// A `Hasher` for keys that already are hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

#[derive(Default)]
struct Counts {
    rows: u64,
    exact_duplicates: u64,
    rows_with_empty_ids: u64,
    cross_month_trips: u64,
}

/// The header line of a colour's CSV, `\n` included.
fn header(taxi: Taxi) -> String {
    let mut h = taxi.columns().join(",");
    h.push('\n');
    h
}

/// Number of rows with a rare feature, at least `min` (when there is room) and at most `room`.
fn at_least(n: u64, rate: f64, min: u64, room: u64) -> u64 {
    ((n as f64 * rate).round() as u64).max(min).min(room)
}

/// Generates every row and sends them, in chunks, down `tx`. Stops early, without error, if
/// the receiving side hangs up (it then reports its own error).
fn produce(
    spec: &MonthSpec,
    n: u64,
    tx: mpsc::SyncSender<Vec<u8>>,
    back: mpsc::Receiver<Vec<u8>>,
) -> Counts {
    let mut g = Gen::new(spec);
    let n_dup = if n >= 2 {
        ((n as f64 * DUPLICATE_RATE).round() as u64).min(n - 1)
    } else {
        0
    };
    let n_orig = n - n_dup;
    let n_cross = at_least(n_orig, 0.0003, 3, n_orig);
    let n_out = at_least(n_orig, 0.00005, 2, n_orig - n_cross);

    let mut counts = Counts::default();
    let mut chunk = Vec::with_capacity(CHUNK + 1024);
    chunk.extend_from_slice(header(spec.taxi).as_bytes());
    let mut seen: HashSet<u64, BuildHasherDefault<PassThrough>> =
        HashSet::with_capacity_and_hasher(n_orig as usize, Default::default());
    // Recent original rows a duplicate may copy: (bytes, empty ids, crosses a month, copied).
    let mut ring: Vec<(Vec<u8>, bool, bool, bool)> = Vec::with_capacity(RING);
    let mut ring_pos = 0usize;
    let mut line = Vec::with_capacity(256);

    let (mut dup_rem, mut orig_rem) = (n_dup, n_orig);
    let (mut special_rem, mut cross_rem) = (n_cross + n_out, n_cross);
    while dup_rem + orig_rem > 0 {
        let rem = dup_rem + orig_rem;
        // Selection sampling: exactly n_dup duplicates, spread uniformly, never first.
        let is_dup = !ring.is_empty() && g.rng.below(rem) < dup_rem;
        if is_dup {
            // Prefer a row not copied yet, so a duplicated row nearly always appears twice.
            let mut pick = g.rng.below(ring.len() as u64) as usize;
            for _ in 0..8 {
                if !ring[pick].3 {
                    break;
                }
                pick = g.rng.below(ring.len() as u64) as usize;
            }
            ring[pick].3 = true;
            let (row, empty, cross, _) = &ring[pick];
            chunk.extend_from_slice(row);
            counts.exact_duplicates += 1;
            counts.rows_with_empty_ids += u64::from(*empty);
            counts.cross_month_trips += u64::from(*cross);
            dup_rem -= 1;
        } else {
            let kind = if g.rng.below(orig_rem) < special_rem {
                special_rem -= 1;
                if g.rng.below(special_rem + 1) < cross_rem {
                    cross_rem -= 1;
                    Kind::CrossMonth
                } else {
                    Kind::Outside
                }
            } else {
                // Rows follow pickup order, give or take a few rows, as in the real files.
                let j = (n_orig - orig_rem) as f64;
                Kind::Normal(((j + 4.0 * g.rng.normal()) / n_orig as f64).clamp(0.0, 0.999_999))
            };
            let empty = g.rng.chance(EMPTY_ID_RATE);
            let cross = loop {
                line.clear();
                let trip = g.trip(kind, empty);
                g.write(&trip, &mut line);
                if seen.insert(row_hash(&line)) {
                    break g.crosses_month(&trip);
                }
            };
            chunk.extend_from_slice(&line);
            counts.rows_with_empty_ids += u64::from(empty);
            counts.cross_month_trips += u64::from(cross);
            if ring.len() < RING {
                ring.push((line.clone(), empty, cross, false));
            } else {
                let slot = &mut ring[ring_pos];
                slot.0.clear();
                slot.0.extend_from_slice(&line);
                slot.1 = empty;
                slot.2 = cross;
                slot.3 = false;
                ring_pos = (ring_pos + 1) % RING;
            }
            orig_rem -= 1;
        }
        counts.rows += 1;
        if chunk.len() >= CHUNK {
            let mut next = back
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(CHUNK + 1024));
            next.clear();
            if tx.send(std::mem::replace(&mut chunk, next)).is_err() {
                return counts;
            }
        }
    }
    if !chunk.is_empty() {
        let _ = tx.send(chunk);
    }
    counts
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TaxiError + '_ {
    move |source| TaxiError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Receives chunks and writes them, gzip-compressed, to `file`; returns the compressed size.
fn consume(
    file: File,
    tmp: &Path,
    rx: mpsc::Receiver<Vec<u8>>,
    back: mpsc::Sender<Vec<u8>>,
) -> Result<u64, TaxiError> {
    let mut enc = GzEncoder::new(
        BufWriter::with_capacity(1 << 20, file),
        Compression::new(GZIP_LEVEL),
    );
    for chunk in rx {
        enc.write_all(&chunk).map_err(io_err(tmp))?;
        let _ = back.send(chunk);
    }
    let file = enc
        .finish()
        .map_err(io_err(tmp))?
        .into_inner()
        .map_err(|e| io_err(tmp)(e.into_error()))?;
    file.sync_all().map_err(io_err(tmp))?;
    Ok(file.metadata().map_err(io_err(tmp))?.len())
}

pub(crate) fn generate(spec: &MonthSpec, dir: &Path) -> Result<GenStats, TaxiError> {
    spec.validate()?;
    let n = spec.rows();
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let name = file_name(spec.taxi, spec.year, spec.month);
    let path = dir.join(&name);
    // Unique per call, so concurrent calls for one spec never share a temporary file.
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let tmp: PathBuf = dir.join(format!(".{name}.{}-{call}.part", std::process::id()));
    let file = File::create(&tmp).map_err(io_err(&tmp))?;

    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(4);
    let (back_tx, back_rx) = mpsc::channel::<Vec<u8>>();
    let (counts, written) = std::thread::scope(|s| {
        let producer = s.spawn(move || produce(spec, n, tx, back_rx));
        let written = consume(file, &tmp, rx, back_tx);
        let counts = match producer.join() {
            Ok(c) => c,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (counts, written)
    });
    let bytes = match written {
        Ok(b) => b,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    if let Err(source) = fs::rename(&tmp, &path) {
        let _ = fs::remove_file(&tmp);
        return Err(TaxiError::Io { path, source });
    }
    Ok(GenStats {
        path,
        rows: counts.rows,
        exact_duplicates: counts.exact_duplicates,
        distinct_rows: counts.rows - counts.exact_duplicates,
        rows_with_empty_ids: counts.rows_with_empty_ids,
        cross_month_trips: counts.cross_month_trips,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_add_up_and_fields_are_in_range() {
        for taxi in [Taxi::Yellow, Taxi::Green] {
            let spec = MonthSpec {
                taxi,
                year: 2021,
                month: 2,
                scale: 1.0,
                seed: 9,
            };
            let mut g = Gen::new(&spec);
            for i in 0..20_000 {
                let kind = [
                    Kind::Normal(i as f64 / 20_000.0),
                    Kind::CrossMonth,
                    Kind::Outside,
                ][i % 3];
                let t = g.trip(kind, i % 7 == 0);
                assert_eq!(
                    t.total,
                    t.fare + t.extra + t.mta + t.tip + t.tolls + t.improvement + t.congestion
                );
                assert!((1..=265).contains(&t.pu) && (1..=265).contains(&t.dol));
                assert!(t.dropoff >= t.pickup);
                assert!(t.passengers.is_none_or(|p| p <= 6));
                assert!(t.payment.is_none_or(|p| (1..=5).contains(&p)));
                if kind == Kind::CrossMonth {
                    assert!(g.crosses_month(&t));
                }
            }
        }
    }

    #[test]
    fn row_hash_separates_nearby_rows() {
        assert_eq!(row_hash(b"abc,1"), row_hash(b"abc,1"));
        assert_ne!(row_hash(b"abc,1"), row_hash(b"abc,2"));
        assert_ne!(row_hash(b"12345678a"), row_hash(b"12345678b"));
    }
}
