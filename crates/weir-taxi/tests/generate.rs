//! Generated files: determinism, layout, value ranges, rates of duplicates and empty ids,
//! month-edge trips, consistent totals and real zone ids.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use weir_taxi::{GREEN_COLUMNS, GenStats, MonthSpec, Taxi, YELLOW_COLUMNS, file_name, generate};

fn spec(taxi: Taxi, month: u32, scale: f64, seed: u64) -> MonthSpec {
    MonthSpec {
        taxi,
        year: 2021,
        month,
        scale,
        seed,
    }
}

fn gunzip(path: &Path) -> String {
    let file = std::fs::File::open(path).expect("open generated file");
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .expect("valid gzip and UTF-8");
    text
}

/// The real zone ids, from the public TLC lookup shipped with the example (its seeds).
fn zone_ids() -> HashSet<u32> {
    let path =
        PathBuf::from(manifest_dir()).join("../../examples/nyc-taxi/seeds/taxi_zone_lookup.csv");
    assert!(
        path.is_file(),
        "the TLC zone lookup is missing at {}",
        path.display()
    );
    let text = std::fs::read_to_string(&path).expect("read zone lookup");
    let ids: HashSet<u32> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next()?.trim_matches('"').parse().ok())
        .collect();
    assert!(ids.len() >= 263, "zone lookup has only {} ids", ids.len());
    ids
}

/// Epoch-free comparable key of `YYYY-MM-DD HH:MM:SS`, checking the format on the way.
fn datetime(s: &str) -> &str {
    let b = s.as_bytes();
    assert_eq!(b.len(), 19, "datetime {s:?}");
    for (i, &c) in b.iter().enumerate() {
        match i {
            4 | 7 => assert_eq!(c, b'-', "{s:?}"),
            10 => assert_eq!(c, b' ', "{s:?}"),
            13 | 16 => assert_eq!(c, b':', "{s:?}"),
            _ => assert!(c.is_ascii_digit(), "{s:?}"),
        }
    }
    s
}

/// Cents of a money field printed the TLC way (`12.5`, `0.5`, `8`, `6.12`; never `12.50`).
fn cents(s: &str) -> i64 {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    assert!(
        !int.is_empty() && int.bytes().all(|c| c.is_ascii_digit()),
        "money {s:?}"
    );
    assert!(frac.len() <= 2 && !frac.ends_with('0'), "money {s:?}");
    let frac_cents = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().expect("digit") * 10,
        _ => frac.parse::<i64>().expect("digits"),
    };
    int.parse::<i64>().expect("integer") * 100 + frac_cents
}

fn int_in(s: &str, allowed: &[u32]) -> bool {
    s.parse::<u32>().is_ok_and(|v| allowed.contains(&v))
}

/// Checks every row of a generated file and that `stats` describes it; returns the number of
/// pickups outside the month.
fn check_file(taxi: Taxi, month: u32, stats: &GenStats, zones: &HashSet<u32>) -> u64 {
    let text = gunzip(&stats.path);
    let mut lines = text.lines();
    let columns: &[&str] = match taxi {
        Taxi::Yellow => &YELLOW_COLUMNS,
        Taxi::Green => &GREEN_COLUMNS,
    };
    assert_eq!(lines.next(), Some(columns.join(",").as_str()), "header");
    let col = |name: &str| columns.iter().position(|c| *c == name).expect("column");
    let (pickup, dropoff) = match taxi {
        Taxi::Yellow => (col("tpep_pickup_datetime"), col("tpep_dropoff_datetime")),
        Taxi::Green => (col("lpep_pickup_datetime"), col("lpep_dropoff_datetime")),
    };
    let month_prefix = format!("2021-{month:02}");
    let amounts = [
        "fare_amount",
        "extra",
        "mta_tax",
        "tip_amount",
        "tolls_amount",
        "improvement_surcharge",
        "congestion_surcharge",
    ]
    .map(col);

    let mut counts: HashMap<&str, u64> = HashMap::new();
    let (mut rows, mut empty, mut cross, mut outside) = (0u64, 0u64, 0u64, 0u64);
    for line in lines {
        rows += 1;
        *counts.entry(line).or_default() += 1;
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), columns.len(), "field count of {line:?}");

        let ids = ["VendorID", "passenger_count", "RatecodeID", "payment_type"].map(|c| f[col(c)]);
        if ids.iter().all(|v| v.is_empty()) {
            empty += 1;
            if taxi == Taxi::Green {
                assert_eq!(f[col("trip_type")], "", "{line:?}");
            }
        } else {
            assert!(
                ids.iter().all(|v| !v.is_empty()),
                "some but not all ids empty: {line:?}"
            );
            assert!(int_in(ids[0], &[1, 2]), "VendorID {line:?}");
            assert!(
                int_in(ids[1], &[0, 1, 2, 3, 4, 5, 6]),
                "passenger_count {line:?}"
            );
            assert!(
                int_in(ids[2], &[1, 2, 3, 4, 5, 6, 99]),
                "RatecodeID {line:?}"
            );
            assert!(int_in(ids[3], &[1, 2, 3, 4, 5]), "payment_type {line:?}");
            assert!(
                matches!(f[col("store_and_fwd_flag")], "N" | "Y"),
                "{line:?}"
            );
            if taxi == Taxi::Green {
                assert!(int_in(f[col("trip_type")], &[1, 2]), "trip_type {line:?}");
            }
        }
        if taxi == Taxi::Green {
            assert_eq!(f[col("ehail_fee")], "", "{line:?}");
        }

        for c in ["PULocationID", "DOLocationID"] {
            let id: u32 = f[col(c)].parse().expect("location id");
            assert!(zones.contains(&id), "{c} {id} is not a TLC zone: {line:?}");
        }
        let d = f[col("trip_distance")];
        let (int, frac) = d.split_once('.').expect("distance has decimals");
        assert!(
            int.parse::<u32>().is_ok() && frac.len() == 2,
            "trip_distance {d:?}"
        );

        let total: i64 = amounts.iter().map(|&i| cents(f[i])).sum();
        assert_eq!(total, cents(f[col("total_amount")]), "total of {line:?}");

        let (p, o) = (datetime(f[pickup]), datetime(f[dropoff]));
        assert!(o >= p, "dropoff before pickup: {line:?}");
        if !p.starts_with(&month_prefix) {
            outside += 1;
        }
        if p[..7] != o[..7] {
            cross += 1;
        }
    }
    let distinct = counts.len() as u64;
    assert_eq!(stats.rows, rows, "rows");
    assert_eq!(stats.distinct_rows, distinct, "distinct rows");
    assert_eq!(stats.exact_duplicates, rows - distinct, "duplicates");
    assert!(counts.values().all(|&n| n <= 3), "a row repeated too often");
    let twice = counts.values().filter(|&&n| n == 2).count() as u64;
    assert!(
        twice * 10 >= (rows - distinct) * 9,
        "most duplicated rows appear exactly twice"
    );
    assert_eq!(stats.rows_with_empty_ids, empty, "rows with empty ids");
    assert_eq!(stats.cross_month_trips, cross, "cross-month trips");
    assert_eq!(
        stats.bytes,
        std::fs::metadata(&stats.path).expect("stat").len()
    );
    outside
}

fn ratio(part: u64, whole: u64) -> f64 {
    part as f64 / whole as f64
}

#[test]
fn same_spec_same_bytes_other_seed_other_bytes() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    for taxi in [Taxi::Yellow, Taxi::Green] {
        let s = spec(taxi, 1, 0.001, 42);
        let sa = generate(&s, a.path()).expect("generate");
        let sb = generate(&s, b.path()).expect("generate");
        let sc = generate(&MonthSpec { seed: 43, ..s }, c.path()).expect("generate");
        let (ba, bb, bc) = (
            std::fs::read(&sa.path).unwrap(),
            std::fs::read(&sb.path).unwrap(),
            std::fs::read(&sc.path).unwrap(),
        );
        assert!(ba == bb, "{taxi}: same spec, different bytes");
        assert!(ba != bc, "{taxi}: another seed, same bytes");
        assert_eq!(sa.rows, sb.rows);
        assert_eq!(
            sa.path.file_name().and_then(|n| n.to_str()),
            Some(file_name(taxi, 2021, 1).as_str())
        );
    }
}

#[test]
fn yellow_rows_are_valid_and_rates_are_realistic() {
    let zones = zone_ids();
    let dir = tempfile::tempdir().unwrap();
    let stats = generate(&spec(Taxi::Yellow, 1, 0.01, 7), dir.path()).expect("generate");
    assert_eq!(stats.rows, 13_698); // 1,369,765 × 0.01
    let outside = check_file(Taxi::Yellow, 1, &stats, &zones);
    let dup = ratio(stats.exact_duplicates, stats.rows);
    assert!((0.008..=0.012).contains(&dup), "duplicate ratio {dup}");
    let empty = ratio(stats.rows_with_empty_ids, stats.rows);
    assert!((0.04..=0.06).contains(&empty), "empty-id ratio {empty}");
    assert!(stats.cross_month_trips >= 3, "{stats:?}");
    assert!(outside >= 2, "only {outside} pickups outside the month");
    assert!(
        outside < stats.rows / 100,
        "{outside} pickups outside the month"
    );
}

#[test]
fn green_rows_are_valid_and_rates_are_realistic() {
    let zones = zone_ids();
    let dir = tempfile::tempdir().unwrap();
    let stats = generate(&spec(Taxi::Green, 2, 0.1, 7), dir.path()).expect("generate");
    assert_eq!(stats.rows, 6_457); // 64,572 × 0.1
    let outside = check_file(Taxi::Green, 2, &stats, &zones);
    let dup = ratio(stats.exact_duplicates, stats.rows);
    assert!((0.008..=0.012).contains(&dup), "duplicate ratio {dup}");
    let empty = ratio(stats.rows_with_empty_ids, stats.rows);
    assert!((0.035..=0.065).contains(&empty), "empty-id ratio {empty}");
    assert!(stats.cross_month_trips >= 3, "{stats:?}");
    assert!(outside >= 2, "only {outside} pickups outside the month");
}

#[test]
fn tiny_and_december_files_still_have_every_feature() {
    let zones = zone_ids();
    let dir = tempfile::tempdir().unwrap();
    for taxi in [Taxi::Yellow, Taxi::Green] {
        let stats = generate(
            &MonthSpec {
                year: 2020,
                ..spec(taxi, 12, 0.001, 1)
            },
            dir.path(),
        )
        .expect("generate");
        check_file(taxi, 12, &stats, &zones);
        assert!(stats.cross_month_trips >= 3, "{stats:?}");
        assert!(stats.exact_duplicates >= 1, "{stats:?}");
    }
    // The smallest possible file: one row, no duplicate.
    let one = generate(&spec(Taxi::Green, 1, 1e-9, 0), dir.path()).expect("generate");
    assert_eq!((one.rows, one.exact_duplicates), (1, 0));
}

#[test]
fn invalid_specs_and_names() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        spec(Taxi::Yellow, 0, 1.0, 0),
        spec(Taxi::Yellow, 13, 1.0, 0),
        spec(Taxi::Yellow, 1, 0.0, 0),
        spec(Taxi::Yellow, 1, f64::NAN, 0),
        spec(Taxi::Yellow, 1, -1.0, 0),
        MonthSpec {
            year: 1900,
            ..spec(Taxi::Yellow, 1, 1.0, 0)
        },
    ] {
        let err = generate(&bad, dir.path()).expect_err("invalid spec");
        assert!(matches!(err, weir_taxi::TaxiError::InvalidSpec(_)), "{err}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );

    assert_eq!("yellow".parse::<Taxi>().unwrap(), Taxi::Yellow);
    assert_eq!("Green".parse::<Taxi>().unwrap(), Taxi::Green);
    assert!("fhv".parse::<Taxi>().is_err());
    assert_eq!(Taxi::Green.as_str(), "green");
    assert_eq!(
        file_name(Taxi::Yellow, 2021, 1),
        "yellow_tripdata_2021-01.csv.gz"
    );
    assert_eq!(
        file_name(Taxi::Green, 2019, 12),
        "green_tripdata_2019-12.csv.gz"
    );
    assert_eq!(MonthSpec::new(Taxi::Yellow, 2021, 1).rows(), 1_369_765);
    assert_eq!(MonthSpec::new(Taxi::Green, 2021, 6).rows(), 86_737);

    // A directory that cannot be created is an I/O error naming the path.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let err = generate(&spec(Taxi::Green, 1, 0.001, 0), &file.join("sub")).expect_err("not a dir");
    assert!(matches!(err, weir_taxi::TaxiError::Io { .. }), "{err}");
    assert!(err.to_string().contains("a-file"), "{err}");
}

/// The package's folder, as cargo sets it when running the tests (read at run time, so a test
/// binary built from another checkout still looks at this one).
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
}
