//! NYC TLC taxi trip data for weir's tests and demos, without the network: a deterministic
//! generator of monthly yellow and green trip files in the public TLC CSV layout
//! (`yellow_tripdata_2021-01.csv.gz`), and [`Mirror`], a local HTTP server that serves them at
//! the same paths as the public release URLs the Kestra flows download from.
//!
//! The files look like the real 2021 ones: same columns and number formats, realistic value
//! ranges, about 1% exact duplicate rows, about 5% rows with empty VendorID,
//! passenger_count, RatecodeID and payment_type, trips crossing a month end and a few pickups
//! just outside the month. Row counts default to the real months' ([`base_rows`]) times
//! [`MonthSpec::scale`].

mod fmt;
mod generator;
mod mirror;
mod rng;

use std::fmt as stdfmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use mirror::{MIRROR_PREFIX, Mirror};

/// Columns of a yellow trip file, in order (the header line).
pub const YELLOW_COLUMNS: [&str; 18] = [
    "VendorID",
    "tpep_pickup_datetime",
    "tpep_dropoff_datetime",
    "passenger_count",
    "trip_distance",
    "RatecodeID",
    "store_and_fwd_flag",
    "PULocationID",
    "DOLocationID",
    "payment_type",
    "fare_amount",
    "extra",
    "mta_tax",
    "tip_amount",
    "tolls_amount",
    "improvement_surcharge",
    "total_amount",
    "congestion_surcharge",
];

/// Columns of a green trip file, in order (the header line).
pub const GREEN_COLUMNS: [&str; 20] = [
    "VendorID",
    "lpep_pickup_datetime",
    "lpep_dropoff_datetime",
    "store_and_fwd_flag",
    "RatecodeID",
    "PULocationID",
    "DOLocationID",
    "passenger_count",
    "trip_distance",
    "fare_amount",
    "extra",
    "mta_tax",
    "tip_amount",
    "tolls_amount",
    "ehail_fee",
    "improvement_surcharge",
    "total_amount",
    "payment_type",
    "trip_type",
    "congestion_surcharge",
];

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum TaxiError {
    #[error("unknown taxi `{0}`: expected `yellow` or `green`")]
    UnknownTaxi(String),
    #[error("invalid month spec: {0}")]
    InvalidSpec(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
}

/// A taxi colour, as in the file names and the release tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Taxi {
    Yellow,
    Green,
}

impl Taxi {
    /// `yellow` or `green`.
    pub fn as_str(self) -> &'static str {
        match self {
            Taxi::Yellow => "yellow",
            Taxi::Green => "green",
        }
    }

    /// The header of this colour's files.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Taxi::Yellow => &YELLOW_COLUMNS,
            Taxi::Green => &GREEN_COLUMNS,
        }
    }
}

impl stdfmt::Display for Taxi {
    fn fmt(&self, f: &mut stdfmt::Formatter<'_>) -> stdfmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Taxi {
    type Err = TaxiError;

    /// `yellow` or `green`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "yellow" => Ok(Taxi::Yellow),
            "green" => Ok(Taxi::Green),
            _ => Err(TaxiError::UnknownTaxi(s.to_string())),
        }
    }
}

/// One file to generate. Equal specs give byte-identical files.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonthSpec {
    pub taxi: Taxi,
    pub year: i32,
    /// 1–12.
    pub month: u32,
    /// Multiplies [`base_rows`]: 1.0 for a real-size month, 0.001 for a quick test.
    pub scale: f64,
    pub seed: u64,
}

impl MonthSpec {
    /// A real-size month with seed 0.
    pub fn new(taxi: Taxi, year: i32, month: u32) -> Self {
        MonthSpec {
            taxi,
            year,
            month,
            scale: 1.0,
            seed: 0,
        }
    }

    /// Checks the month (1–12), the year (1971–9998, so every neighbouring month prints
    /// with four digits) and the scale (finite, > 0, at most 1000).
    pub fn validate(&self) -> Result<(), TaxiError> {
        if !(1..=12).contains(&self.month) {
            return Err(TaxiError::InvalidSpec(format!(
                "month {} is not in 1..=12",
                self.month
            )));
        }
        if !(1971..=9998).contains(&self.year) {
            return Err(TaxiError::InvalidSpec(format!(
                "year {} is not in 1971..=9998",
                self.year
            )));
        }
        if !(self.scale.is_finite() && self.scale > 0.0 && self.scale <= 1000.0) {
            return Err(TaxiError::InvalidSpec(format!(
                "scale {} must be > 0 and <= 1000",
                self.scale
            )));
        }
        Ok(())
    }

    /// Rows the file will have, duplicates included (header excluded): `base_rows × scale`,
    /// rounded, at least 1.
    pub fn rows(&self) -> u64 {
        ((base_rows(self.taxi, self.year, self.month) as f64 * self.scale).round() as u64).max(1)
    }
}

/// Rows of a real-size month: the real 2021 counts for January to June (yellow 1,369,765 …
/// 2,834,264; green 76,518 … 86,737). Other months reuse the same month of 2021 for January
/// to June and June's count for July to December, whatever the year.
pub fn base_rows(taxi: Taxi, year: i32, month: u32) -> u64 {
    const YELLOW_2021: [u64; 6] = [
        1_369_765, 1_371_708, 1_925_152, 2_171_187, 2_507_109, 2_834_264,
    ];
    const GREEN_2021: [u64; 6] = [76_518, 64_572, 83_827, 86_941, 88_180, 86_737];
    let _ = year;
    let i = (month.clamp(1, 6) - 1) as usize;
    match taxi {
        Taxi::Yellow => YELLOW_2021[i],
        Taxi::Green => GREEN_2021[i],
    }
}

/// The public file name: `yellow_tripdata_2021-01.csv.gz`.
pub fn file_name(taxi: Taxi, year: i32, month: u32) -> String {
    format!("{}_tripdata_{year:04}-{month:02}.csv.gz", taxi.as_str())
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenStats {
    /// `dir/<file_name>`.
    pub path: PathBuf,
    /// Data rows, duplicates included, header excluded.
    pub rows: u64,
    /// Rows that repeat an earlier row verbatim (`rows - distinct_rows`).
    pub exact_duplicates: u64,
    pub distinct_rows: u64,
    /// Rows (duplicates included) with empty VendorID, passenger_count, RatecodeID and
    /// payment_type (and store_and_fwd_flag, and trip_type for green, as in the real files).
    pub rows_with_empty_ids: u64,
    /// Rows (duplicates included) whose pickup and dropoff fall in different months.
    pub cross_month_trips: u64,
    /// Size of the compressed file.
    pub bytes: u64,
}

/// Writes `dir/<file_name(spec)>` (creating `dir`), replacing any file of that name. The file
/// is written under a temporary name and renamed when complete, so a reader never sees half of
/// it.
pub fn generate(spec: &MonthSpec, dir: &Path) -> Result<GenStats, TaxiError> {
    generator::generate(spec, dir)
}
