//! Reading the file of a load: CSV records (gzip or not) with their row key, each distinct key
//! once.
//!
//! The key of a row is the md5 of its key fields' text as written in the file, joined by the
//! unit separator (0x1f), with `\N` for a NULL field (one equal to the null string). Keying the
//! text, not the parsed values, needs no formatting of numbers and timestamps and gives the same
//! key on every engine. It is stored as 32 lowercase hex digits.

use super::values::{self, Kind};
use crate::{CsvOptions, Result, WarehouseError};
use md5::{Digest, Md5};
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Hashes a row key by folding its bits: keys are md5 digests, already uniformly spread.
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = (v as u64) ^ ((v >> 64) as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A set of row keys.
pub type KeySet = HashSet<u128, BuildHasherDefault<KeyHasher>>;

/// A key as stored: 32 lowercase hex digits.
pub fn key_hex(key: u128) -> [u8; 32] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = HEX[((key >> (124 - 4 * i)) & 0xf) as usize];
    }
    out
}

/// The key a stored value stands for, when it is one weir writes (32 lowercase hex digits).
/// Anything else can never equal a key weir computes.
pub fn parse_key_hex(s: &[u8]) -> Option<u128> {
    if s.len() != 32 {
        return None;
    }
    let mut k = 0u128;
    for &c in s {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        k = (k << 4) | u128::from(d);
    }
    Some(k)
}

/// The records of one CSV file, each returned once per distinct key.
pub struct KeyedReader {
    file: PathBuf,
    csv: CsvOptions,
    rdr: csv::Reader<Box<dyn Read + Send>>,
    record: csv::ByteRecord,
    name: String,
    gzip: bool,
    columns: Vec<String>,
    key_fields: Vec<usize>,
    null: Vec<u8>,
    seen: KeySet,
    key_text: Vec<u8>,
    /// Records read so far (header lines excluded).
    pub rows_read: u64,
}

impl KeyedReader {
    /// Opens a file and reads past its header lines; returns the reader and the header's
    /// column names when the file has a header.
    pub fn open(file: &Path, name: &str, csv: &CsvOptions) -> Result<(Self, Option<Vec<String>>)> {
        let f = std::fs::File::open(file)
            .map_err(|e| WarehouseError::Load(format!("cannot open `{name}`: {e}")))?;
        let input: Box<dyn Read + Send> = if csv.gzip {
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
                1 << 20,
                f,
            )))
        } else {
            Box::new(f)
        };
        let byte = |c: char, what: &str| {
            u8::try_from(c).ok().filter(u8::is_ascii).ok_or_else(|| {
                WarehouseError::Load(format!("the {what} `{c}` must be one ASCII character"))
            })
        };
        let rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(byte(csv.delimiter, "delimiter")?)
            .quote(byte(csv.quote, "quote")?)
            .buffer_capacity(1 << 20)
            .from_reader(input);
        // Room for the keys of the rows the file probably holds (~80 bytes a row, ~4× gzip),
        // so the set rarely grows while it fills.
        let size = std::fs::metadata(file).map_or(0, |m| m.len());
        let guess = (size / 80).saturating_mul(if csv.gzip { 4 } else { 1 });
        let seen = KeySet::with_capacity_and_hasher(
            usize::try_from(guess.min(1 << 24)).unwrap_or(0),
            Default::default(),
        );
        let mut reader = KeyedReader {
            file: file.to_path_buf(),
            csv: csv.clone(),
            rdr,
            record: csv::ByteRecord::new(),
            name: name.to_string(),
            gzip: csv.gzip,
            columns: Vec::new(),
            key_fields: Vec::new(),
            null: csv.null.as_bytes().to_vec(),
            seen,
            key_text: Vec::with_capacity(256),
            rows_read: 0,
        };
        let mut header = None;
        for i in 0..csv.header_lines {
            if !reader.read_record()? {
                break;
            }
            if i == 0 {
                header = Some(
                    reader
                        .record
                        .iter()
                        .map(|f| String::from_utf8_lossy(f).trim().to_string())
                        .collect::<Vec<_>>(),
                );
            }
        }
        Ok((reader, header))
    }

    /// The same file from its start, with the same columns and key: for a second pass.
    pub fn reopen(&self) -> Result<Self> {
        let (mut again, _) = KeyedReader::open(&self.file, &self.name, &self.csv)?;
        again.set_columns(self.columns.clone(), self.key_fields.clone());
        Ok(again)
    }

    /// The file's columns in order, and which of them make the key (indexes into `columns`).
    pub fn set_columns(&mut self, columns: Vec<String>, key_fields: Vec<usize>) {
        self.columns = columns;
        self.key_fields = key_fields;
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    fn read_record(&mut self) -> Result<bool> {
        self.rdr.read_byte_record(&mut self.record).map_err(|e| {
            let line = e.position().map(csv::Position::line);
            match e.into_kind() {
                csv::ErrorKind::Io(io) if self.gzip => WarehouseError::Load(format!(
                    "`{}` is not a complete gzip file ({io}): it is truncated or damaged",
                    self.name
                )),
                csv::ErrorKind::Io(io) => {
                    WarehouseError::Load(format!("`{}` could not be read: {io}", self.name))
                }
                other => WarehouseError::Load(format!(
                    "{}{other:?}",
                    line.map(|l| format!("line {l}: ")).unwrap_or_default()
                )),
            }
        })
    }

    /// The line the current record starts on (1 for the file's first line).
    pub fn line(&self) -> u64 {
        self.record.position().map_or(0, csv::Position::line)
    }

    /// The current record's fields.
    pub fn record(&self) -> &csv::ByteRecord {
        &self.record
    }

    /// The text that stands for NULL.
    pub fn null(&self) -> &[u8] {
        &self.null
    }

    /// Whether a field stands for NULL.
    pub fn is_null(&self, field: &[u8]) -> bool {
        field == self.null.as_slice()
    }

    /// An error about the current record's field `i`.
    pub fn bad_value(&self, i: usize, what: &str) -> WarehouseError {
        let value = String::from_utf8_lossy(&self.record[i]);
        WarehouseError::Load(format!(
            "line {}, column `{}`: `{value}` is not {what}",
            self.line(),
            self.columns[i]
        ))
    }

    /// Checks that the current record's field `i` reads as `kind`; NULL always does, and
    /// `Other` kinds are left to the engine.
    pub fn check_field(&self, i: usize, kind: &Kind) -> Result<()> {
        let f = &self.record[i];
        if self.is_null(f) {
            return Ok(());
        }
        let ok = match kind {
            Kind::Text => std::str::from_utf8(f).is_ok(),
            Kind::Int16 => values::parse_int(f).is_some_and(|v| i16::try_from(v).is_ok()),
            Kind::Int32 => values::parse_int(f).is_some_and(|v| i32::try_from(v).is_ok()),
            Kind::Int64 => values::parse_int(f).is_some(),
            Kind::Float32 | Kind::Float64 => values::parse_float(f).is_some(),
            Kind::Bool => values::parse_bool(f).is_some(),
            Kind::Date => values::parse_date(f).is_some(),
            Kind::Timestamp => values::parse_timestamp(f).is_some(),
            Kind::Other(_) => true,
        };
        if ok {
            Ok(())
        } else {
            Err(self.bad_value(i, &kind.expected()))
        }
    }

    /// Moves to the next record whose key was neither seen earlier in the file nor is in
    /// `existing`, and returns its key; `None` at the end of the file. Every record read counts
    /// in `rows_read`; a record with the wrong number of fields is an error naming its line.
    pub fn next_new(&mut self, existing: &KeySet) -> Result<Option<u128>> {
        loop {
            if !self.read_record()? {
                return Ok(None);
            }
            if self.record.len() == 1 && self.record[0].is_empty() && self.columns.len() > 1 {
                continue; // a blank line
            }
            self.rows_read += 1;
            if self.record.len() != self.columns.len() {
                return Err(WarehouseError::Load(format!(
                    "line {}: {} fields where the file's {} columns ({}) are expected",
                    self.line(),
                    self.record.len(),
                    self.columns.len(),
                    self.columns.join(", ")
                )));
            }
            let key = self.key();
            if !existing.contains(&key) && self.seen.insert(key) {
                return Ok(Some(key));
            }
        }
    }

    fn key(&mut self) -> u128 {
        // One digest over the joined fields: cheaper than feeding md5 field by field.
        self.key_text.clear();
        for (n, &i) in self.key_fields.iter().enumerate() {
            if n > 0 {
                self.key_text.push(0x1f);
            }
            let f = &self.record[i];
            if f == self.null.as_slice() {
                self.key_text.extend_from_slice(b"\\N");
            } else {
                self.key_text.extend_from_slice(f);
            }
        }
        u128::from_be_bytes(Md5::digest(&self.key_text).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_as_lowercase_hex() {
        let k = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210_u128;
        let hex = key_hex(k);
        assert_eq!(&hex, b"0123456789abcdeffedcba9876543210");
        assert_eq!(parse_key_hex(&hex), Some(k));
        assert_eq!(parse_key_hex(b"0123456789ABCDEFFEDCBA9876543210"), None);
        assert_eq!(parse_key_hex(b"abc"), None);
    }

    fn reader(text: &str, key_fields: Vec<usize>) -> KeyedReader {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f.csv");
        std::fs::write(&f, text).unwrap();
        let (mut r, header) = KeyedReader::open(&f, "f.csv", &CsvOptions::default()).unwrap();
        r.set_columns(header.unwrap(), key_fields);
        r
    }

    #[test]
    fn a_key_is_the_md5_of_the_key_fields_text() {
        let mut r = reader("a,b,c\n1,x,\n", vec![0, 2]);
        let k = r.next_new(&KeySet::default()).unwrap().unwrap();
        // md5("1" 0x1f "\N"), as `md5(concat_ws(chr(31), '1', '\N'))` gives in SQL.
        let expected = Md5::digest(b"1\x1f\\N");
        assert_eq!(k, u128::from_be_bytes(expected.into()));
    }

    #[test]
    fn repeated_and_existing_keys_are_skipped_and_counted() {
        let mut r = reader("a,b\n1,x\n2,y\n1,x\n3,z\n1,other\n", vec![0, 1]);
        let mut existing = KeySet::default();
        existing.insert(u128::from_be_bytes(Md5::digest(b"3\x1fz").into()));
        let mut lines = Vec::new();
        while r.next_new(&existing).unwrap().is_some() {
            lines.push(r.line());
        }
        assert_eq!(lines, vec![2, 3, 6]);
        assert_eq!(r.rows_read, 5);
    }

    #[test]
    fn a_wrong_field_count_names_the_line() {
        let mut r = reader("a,b\n1,x\n2,y,9\n", vec![0, 1]);
        r.next_new(&KeySet::default()).unwrap();
        let e = r.next_new(&KeySet::default()).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("3 fields"), "{e}");
    }
}
