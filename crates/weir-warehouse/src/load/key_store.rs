//! weir's own index of a table's row keys, kept in files beside the warehouse: what lets a load
//! check its file's keys against a large table in time that grows with the file, not the table.
//!
//! A row key is an md5 digest, so its first 64 bits (its *fingerprint*) are uniformly spread and
//! two different keys share one with odds of about one in 2^64 per pair. The store holds the
//! fingerprints of the table's keys in *runs*: files of sorted fingerprints, each with
//!
//! - a blocked Bloom filter (16 bits per key, one 64-byte block per key, the block chosen by the
//!   fingerprint's top bits): a sorted file of fingerprints reads each run's filter front to
//!   back, once;
//! - fences (the first fingerprint of every 4 KiB page), so that a fingerprint the filter lets
//!   through costs one page read.
//!
//! A load adds one run (its new keys); runs are merged when one would be no more than twice the
//! size of the next (as a binary counter), so a table of M keys loaded N at a time has at most
//! about log2(M/N) + 1 runs, and each key is rewritten about log2(M/N) times over its life.
//!
//! **What it answers.** `probe` says which fingerprints may be in the table: "no" is certain as
//! long as the store is in step with the table; "maybe" (a key really there, a key deleted since,
//! or a fingerprint collision) is checked against the table itself by the load. So a `DELETE` by
//! someone else can never make a load skip a row.
//!
//! **Staying in step.** The store is a cache: the table's own database holds a token in
//! `weir_key_store` that changes with every write weir cannot see (see `key_index`), and the
//! manifest here lists the runs valid for each of the last two tokens. A load uses the state
//! whose token the database holds; otherwise it rebuilds the store from the table. Run files are
//! written before the database commits and never changed after; the manifest is replaced
//! atomically (write, fsync, rename), so a crash at any moment leaves a state that either matches
//! the database's token or is rebuilt.

use crate::{Result, WarehouseError};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"WEIRKEY1";
const HEADER: u64 = 64;
/// Fingerprints per 4 KiB page: one fence each.
const PAGE_KEYS: u64 = 512;
/// Bloom filter block: 512 bits, one cache line.
const BLOCK: u64 = 64;
/// Keys per block (16 bits per key).
const KEYS_PER_BLOCK: u64 = 32;
/// Bits set per key within its block.
const PROBES: u32 = 6;
/// Fingerprints sorted in memory at once when a store is built from a table (64 MiB).
const BUILD_CHUNK: usize = 8 << 20;
const MANIFEST: &str = "MANIFEST";

/// A key's fingerprint: its first 64 bits, as the first 16 hex digits spell them.
pub fn fingerprint(key: u128) -> u64 {
    (key >> 64) as u64
}

/// The error of an I/O call on a store file, formatted only when there is one.
fn io_err<'a>(what: &'a str, path: &'a Path) -> impl FnOnce(std::io::Error) -> WarehouseError + 'a {
    move |e| WarehouseError::Load(format!("key index: {what} `{}`: {e}", path.display()))
}

/// One run file and its number of fingerprints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub file: String,
    pub count: u64,
}

/// The runs valid while the table's database holds `token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub token: String,
    pub runs: Vec<Run>,
}

impl State {
    pub fn keys(&self) -> u64 {
        self.runs.iter().map(|r| r.count).sum()
    }
}

/// A store directory, locked for this process while open.
pub struct KeyStore {
    dir: PathBuf,
    states: Vec<State>,
    _lock: File,
}

impl KeyStore {
    /// Opens (creating) the store in `dir` and takes its lock, waiting for another process
    /// that holds it.
    pub fn open(dir: &Path) -> Result<KeyStore> {
        std::fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
        let lock_path = dir.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err("opening", &lock_path))?;
        lock.lock().map_err(io_err("locking", &lock_path))?;
        let path = dir.join(MANIFEST);
        let states = match std::fs::read_to_string(&path) {
            Ok(text) => parse_manifest(&text).ok_or_else(|| {
                WarehouseError::Load(format!(
                    "key index: `{}` is damaged; delete the folder `{}` and weir rebuilds it",
                    path.display(),
                    dir.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err("reading", &path)(e)),
        };
        Ok(KeyStore {
            dir: dir.to_path_buf(),
            states,
            _lock: lock,
        })
    }

    /// The state valid for `token`, if the store has one.
    pub fn state(&self, token: &str) -> Option<&State> {
        self.states.iter().rev().find(|s| s.token == token)
    }

    /// Which of `fps` (sorted ascending) are in one of `runs`.
    pub fn probe(&self, runs: &[Run], fps: &[u64]) -> Result<Vec<u64>> {
        let mut found = Vec::new();
        for run in runs {
            RunReader::open(&self.dir.join(&run.file))?.probe(fps, &mut found)?;
        }
        found.sort_unstable();
        found.dedup();
        Ok(found)
    }

    /// Writes a run of `fps` (sorted ascending, repeats allowed) and returns it. It takes effect
    /// with `commit`.
    pub fn write_run(&self, fps: &[u64]) -> Result<Run> {
        let mut w = RunWriter::create(&self.dir, fps.len() as u64)?;
        for &fp in fps {
            w.push(fp)?;
        }
        w.finish()
    }

    /// `base`'s runs with `new` added, merging runs as the store's policy says (see the module
    /// documentation). Merged runs are new files; `base`'s stay as they are.
    pub fn add_run(&self, base: &[Run], new: Run) -> Result<Vec<Run>> {
        let mut runs = base.to_vec();
        runs.push(new);
        let mut fresh: Vec<String> = vec![runs.last().map(|r| r.file.clone()).unwrap_or_default()];
        while runs.len() >= 2 && runs[runs.len() - 2].count <= 2 * runs[runs.len() - 1].count {
            let b = runs.pop().unwrap_or_else(|| unreachable!());
            let a = runs.pop().unwrap_or_else(|| unreachable!());
            let merged = self.merge(&a, &b)?;
            // A run this call wrote and merged away is no state's: remove it now.
            for r in [&a, &b] {
                if fresh.contains(&r.file) {
                    let _ = std::fs::remove_file(self.dir.join(&r.file));
                }
            }
            fresh.push(merged.file.clone());
            runs.push(merged);
        }
        Ok(runs)
    }

    fn merge(&self, a: &Run, b: &Run) -> Result<Run> {
        let mut w = RunWriter::create(&self.dir, a.count + b.count)?;
        let mut xa = RunReader::open(&self.dir.join(&a.file))?.stream()?;
        let mut xb = RunReader::open(&self.dir.join(&b.file))?.stream()?;
        let (mut na, mut nb) = (xa.next_fp()?, xb.next_fp()?);
        loop {
            match (na, nb) {
                (Some(x), Some(y)) if x <= y => {
                    w.push(x)?;
                    na = xa.next_fp()?;
                }
                (_, Some(y)) => {
                    w.push(y)?;
                    nb = xb.next_fp()?;
                }
                (Some(x), None) => {
                    w.push(x)?;
                    na = xa.next_fp()?;
                }
                (None, None) => break,
            }
        }
        w.finish()
    }

    /// Makes `runs` the state for `token` (keeping the newest earlier state too) and removes
    /// the run files no state names.
    pub fn commit(&mut self, token: &str, runs: Vec<Run>) -> Result<()> {
        let mut states: Vec<State> = self
            .states
            .iter()
            .filter(|s| s.token != token)
            .cloned()
            .collect();
        states.push(State {
            token: token.to_string(),
            runs,
        });
        if states.len() > 2 {
            states.drain(..states.len() - 2);
        }
        let text = write_manifest(&states);
        let tmp = self.dir.join("MANIFEST.tmp");
        let path = self.dir.join(MANIFEST);
        {
            let mut f = File::create(&tmp).map_err(io_err("writing", &tmp))?;
            f.write_all(text.as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(io_err("writing", &tmp))?;
        }
        std::fs::rename(&tmp, &path).map_err(io_err("replacing", &path))?;
        self.states = states;
        self.remove_unnamed();
        Ok(())
    }

    /// Forgets every state (the table is being rebuilt from scratch).
    pub fn clear(&mut self) -> Result<()> {
        let path = self.dir.join(MANIFEST);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("removing", &path)(e)),
        }
        self.states.clear();
        self.remove_unnamed();
        Ok(())
    }

    /// Removes run files that no state names: left by a load that failed or crashed.
    fn remove_unnamed(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let named = self
                .states
                .iter()
                .any(|s| s.runs.iter().any(|r| r.file == name));
            if name.ends_with(".run") && !named {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    /// Builds runs from fingerprints in any order (a table's keys read by a scan), sorting a
    /// bounded chunk at a time.
    pub fn builder(&self) -> Builder<'_> {
        Builder {
            store: self,
            chunk: Vec::new(),
            runs: Vec::new(),
        }
    }
}

/// Collects fingerprints into runs with bounded memory (`KeyStore::builder`).
pub struct Builder<'a> {
    store: &'a KeyStore,
    chunk: Vec<u64>,
    runs: Vec<Run>,
}

impl Builder<'_> {
    pub fn push(&mut self, fp: u64) -> Result<()> {
        self.chunk.push(fp);
        if self.chunk.len() >= BUILD_CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        self.chunk.sort_unstable();
        self.chunk.dedup();
        let run = self.store.write_run(&self.chunk)?;
        self.chunk.clear();
        self.runs = self.store.add_run(&self.runs, run)?;
        Ok(())
    }

    /// The runs holding every fingerprint pushed.
    pub fn finish(mut self) -> Result<Vec<Run>> {
        self.flush()?;
        Ok(self.runs)
    }
}

fn write_manifest(states: &[State]) -> String {
    let mut out = String::from("weir key index 1\n");
    for s in states {
        out.push_str(&format!("state {}\n", s.token));
        for r in &s.runs {
            out.push_str(&format!("run {} {}\n", r.file, r.count));
        }
    }
    out
}

fn parse_manifest(text: &str) -> Option<Vec<State>> {
    let mut lines = text.lines();
    if lines.next()? != "weir key index 1" {
        return None;
    }
    let mut states: Vec<State> = Vec::new();
    for line in lines {
        let mut parts = line.split(' ');
        match (parts.next()?, parts.next(), parts.next()) {
            ("state", Some(token), None) => states.push(State {
                token: token.to_string(),
                runs: Vec::new(),
            }),
            ("run", Some(file), Some(count)) => {
                if file.contains('/') || !file.ends_with(".run") {
                    return None;
                }
                states.last_mut()?.runs.push(Run {
                    file: file.to_string(),
                    count: count.parse().ok()?,
                });
            }
            _ => return None,
        }
    }
    Some(states)
}

fn blocks_for(count: u64) -> u64 {
    count.div_ceil(KEYS_PER_BLOCK).max(1)
}

/// The filter block of a fingerprint: its top 32 bits scaled to the block count, so blocks
/// follow the fingerprints' order.
fn block_of(fp: u64, blocks: u64) -> u64 {
    ((fp >> 32) * blocks) >> 32
}

/// The bits a fingerprint sets in its block, from a remix of all its bits.
fn bits_of(fp: u64) -> [u16; PROBES as usize] {
    let h = fp.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (fp >> 29);
    let h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    std::array::from_fn(|i| ((h >> (64 - 9 * (i as u32 + 1))) & 511) as u16)
}

fn set_bits(block: &mut [u8], fp: u64) {
    for b in bits_of(fp) {
        block[usize::from(b / 8)] |= 1 << (b % 8);
    }
}

fn has_bits(block: &[u8], fp: u64) -> bool {
    bits_of(fp)
        .iter()
        .all(|&b| block[usize::from(b / 8)] & (1 << (b % 8)) != 0)
}

/// Writes one run file: header, fingerprints, filter, fences. The fingerprints and the filter
/// are written in one pass: fingerprints arrive sorted, so filter blocks fill in order.
struct RunWriter {
    path: PathBuf,
    name: String,
    fps: BufWriter<File>,
    filter: BufWriter<File>,
    capacity: u64,
    blocks: u64,
    count: u64,
    fences: Vec<u64>,
    block_no: u64,
    block: [u8; BLOCK as usize],
    last: Option<u64>,
}

impl RunWriter {
    /// A run of at most `capacity` fingerprints (the filter is sized for it).
    fn create(dir: &Path, capacity: u64) -> Result<RunWriter> {
        let name = format!("{}.run", unique_name());
        let path = dir.join(&name);
        let file = File::create_new(&path).map_err(io_err("creating", &path))?;
        // A second handle with its own offset: the filter is written while the fingerprints are.
        let second = File::options()
            .write(true)
            .open(&path)
            .map_err(io_err("opening", &path))?;
        let blocks = blocks_for(capacity);
        let mut filter = BufWriter::with_capacity(1 << 20, second);
        filter
            .seek(SeekFrom::Start(HEADER + capacity * 8))
            .map_err(io_err("writing", &path))?;
        let mut fps = BufWriter::with_capacity(1 << 20, file);
        fps.seek(SeekFrom::Start(HEADER))
            .map_err(io_err("writing", &path))?;
        Ok(RunWriter {
            path,
            name,
            fps,
            filter,
            capacity,
            blocks,
            count: 0,
            fences: Vec::new(),
            block_no: 0,
            block: [0; BLOCK as usize],
            last: None,
        })
    }

    fn push(&mut self, fp: u64) -> Result<()> {
        if self.last == Some(fp) {
            return Ok(());
        }
        debug_assert!(
            self.last.is_none_or(|l| l < fp),
            "fingerprints out of order"
        );
        if self.count >= self.capacity {
            return Err(WarehouseError::Load(
                "key index: more keys than the run was sized for".into(),
            ));
        }
        if self.count.is_multiple_of(PAGE_KEYS) {
            self.fences.push(fp);
        }
        self.fps
            .write_all(&fp.to_le_bytes())
            .map_err(io_err("writing", &self.path))?;
        let b = block_of(fp, self.blocks);
        while self.block_no < b {
            self.flush_block()?;
        }
        set_bits(&mut self.block, fp);
        self.count += 1;
        self.last = Some(fp);
        Ok(())
    }

    fn flush_block(&mut self) -> Result<()> {
        self.filter
            .write_all(&self.block)
            .map_err(io_err("writing", &self.path))?;
        self.block = [0; BLOCK as usize];
        self.block_no += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<Run> {
        while self.block_no < self.blocks {
            self.flush_block()?;
        }
        for f in std::mem::take(&mut self.fences) {
            self.filter
                .write_all(&f.to_le_bytes())
                .map_err(io_err("writing", &self.path))?;
        }
        let fps = self.fps.into_inner().map_err(|e| {
            io_err("writing", &self.path)(std::io::Error::other(e.error().to_string()))
        })?;
        let filter = self.filter.into_inner().map_err(|e| {
            io_err("writing", &self.path)(std::io::Error::other(e.error().to_string()))
        })?;
        drop(filter);
        let mut header = [0u8; HEADER as usize];
        header[..8].copy_from_slice(MAGIC);
        header[8..16].copy_from_slice(&self.count.to_le_bytes());
        header[16..24].copy_from_slice(&self.capacity.to_le_bytes());
        fps.write_all_at(&header, 0)
            .and_then(|()| fps.sync_all())
            .map_err(io_err("writing", &self.path))?;
        Ok(Run {
            file: self.name,
            count: self.count,
        })
    }
}

/// A name no other run of this store has: time, process and a counter.
fn unique_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{nanos:x}-{:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A random token for `weir_key_store`: no two loads, anywhere, pick the same one.
pub fn new_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(unique_name().as_bytes());
    let a = h.finish();
    let mut h2 = std::collections::hash_map::RandomState::new().build_hasher();
    h2.write_u64(a);
    format!("{a:016x}{:016x}", h2.finish())
}

struct RunReader {
    path: PathBuf,
    file: File,
    count: u64,
    capacity: u64,
}

impl RunReader {
    fn open(path: &Path) -> Result<RunReader> {
        let file = File::open(path).map_err(io_err("opening", path))?;
        let mut header = [0u8; HEADER as usize];
        file.read_exact_at(&mut header, 0)
            .map_err(io_err("reading", path))?;
        let num = |i: usize| u64::from_le_bytes(header[i..i + 8].try_into().unwrap_or_default());
        let (count, capacity) = (num(8), num(16));
        let len = file.metadata().map_err(io_err("reading", path))?.len();
        let want =
            HEADER + capacity * 8 + blocks_for(capacity) * BLOCK + count.div_ceil(PAGE_KEYS) * 8;
        if &header[..8] != MAGIC || count > capacity || len != want {
            return Err(WarehouseError::Load(format!(
                "key index: `{}` is damaged; delete its folder and weir rebuilds it",
                path.display()
            )));
        }
        Ok(RunReader {
            path: path.to_path_buf(),
            file,
            count,
            capacity,
        })
    }

    fn filter_at(&self) -> u64 {
        HEADER + self.capacity * 8
    }

    /// Pushes onto `found` each of `fps` (sorted) that this run holds. Reads the filter once,
    /// front to back, in 1 MiB pieces, skipping pieces no fingerprint falls in; then one page per
    /// fingerprint the filter lets through.
    fn probe(&self, fps: &[u64], found: &mut Vec<u64>) -> Result<()> {
        if self.count == 0 || fps.is_empty() {
            return Ok(());
        }
        let blocks = blocks_for(self.capacity);
        const PIECE: u64 = (1 << 20) / BLOCK;
        let mut piece = vec![0u8; (PIECE * BLOCK) as usize];
        let mut loaded: Option<u64> = None;
        let mut maybe = Vec::new();
        for &fp in fps {
            let b = block_of(fp, blocks);
            let p = b / PIECE;
            if loaded != Some(p) {
                let start = p * PIECE;
                let n = (blocks - start).min(PIECE);
                let buf = &mut piece[..(n * BLOCK) as usize];
                self.file
                    .read_exact_at(buf, self.filter_at() + start * BLOCK)
                    .map_err(io_err("reading", &self.path))?;
                loaded = Some(p);
            }
            let off = ((b % PIECE) * BLOCK) as usize;
            if has_bits(&piece[off..off + BLOCK as usize], fp) {
                maybe.push(fp);
            }
        }
        if maybe.is_empty() {
            return Ok(());
        }
        let pages = self.count.div_ceil(PAGE_KEYS);
        let mut fences = vec![0u8; (pages * 8) as usize];
        self.file
            .read_exact_at(&mut fences, self.filter_at() + blocks * BLOCK)
            .map_err(io_err("reading", &self.path))?;
        let fences: Vec<u64> = fences
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        let mut page_buf = vec![0u8; (PAGE_KEYS * 8) as usize];
        let mut page_no: Option<usize> = None;
        let mut page: Vec<u64> = Vec::new();
        for fp in maybe {
            let i = fences.partition_point(|&f| f <= fp);
            if i == 0 {
                continue;
            }
            let p = i - 1;
            if page_no != Some(p) {
                let first = p as u64 * PAGE_KEYS;
                let n = (self.count - first).min(PAGE_KEYS) as usize;
                self.file
                    .read_exact_at(&mut page_buf[..n * 8], HEADER + first * 8)
                    .map_err(io_err("reading", &self.path))?;
                page = page_buf[..n * 8]
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
                    .collect();
                page_no = Some(p);
            }
            if page.binary_search(&fp).is_ok() {
                found.push(fp);
            }
        }
        Ok(())
    }

    /// Reads the fingerprints in order.
    fn stream(self) -> Result<RunStream> {
        let mut r = BufReader::with_capacity(1 << 20, self.file);
        r.seek(SeekFrom::Start(HEADER))
            .map_err(io_err("reading", &self.path))?;
        Ok(RunStream {
            path: self.path,
            r,
            left: self.count,
        })
    }
}

struct RunStream {
    path: PathBuf,
    r: BufReader<File>,
    left: u64,
}

impl RunStream {
    fn next_fp(&mut self) -> Result<Option<u64>> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut b = [0u8; 8];
        self.r
            .read_exact(&mut b)
            .map_err(io_err("reading", &self.path))?;
        self.left -= 1;
        Ok(Some(u64::from_le_bytes(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(n: u64, salt: u64) -> Vec<u64> {
        let mut v: Vec<u64> = (0..n)
            .map(|i| {
                (i ^ salt)
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    .rotate_left(17)
                    ^ salt
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn a_run_finds_its_keys_and_almost_no_others() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::open(dir.path()).unwrap();
        let keys = spread(100_000, 1);
        let run = store.write_run(&keys).unwrap();
        let state = State {
            token: "t".into(),
            runs: vec![run],
        };
        assert_eq!(store.probe(&state.runs, &keys).unwrap(), keys);
        let others = spread(100_000, 0xdead_beef);
        let found = store.probe(&state.runs, &others).unwrap();
        let truly: Vec<u64> = others
            .iter()
            .copied()
            .filter(|k| keys.binary_search(k).is_ok())
            .collect();
        assert_eq!(found, truly);
        // The filter lets few of the others through to a page read.
        let r = RunReader::open(&dir.path().join(&state.runs[0].file)).unwrap();
        let blocks = blocks_for(r.capacity);
        let mut piece = vec![0u8; (blocks * BLOCK) as usize];
        r.file.read_exact_at(&mut piece, r.filter_at()).unwrap();
        let passed = others
            .iter()
            .filter(|&&fp| {
                let off = (block_of(fp, blocks) * BLOCK) as usize;
                has_bits(&piece[off..off + 64], fp)
            })
            .count();
        assert!(passed < 500, "{passed} of 100000 passed the filter");
    }

    #[test]
    fn runs_merge_like_a_binary_counter_and_keep_every_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = KeyStore::open(dir.path()).unwrap();
        let mut runs = Vec::new();
        let mut all = Vec::new();
        for i in 0..9u64 {
            let keys = spread(1000, i + 10);
            all.extend_from_slice(&keys);
            let run = store.write_run(&keys).unwrap();
            runs = store.add_run(&runs, run).unwrap();
            store.commit(&format!("t{i}"), runs.clone()).unwrap();
        }
        // 9 loads of 1000: runs of 8000 and 1000.
        assert_eq!(
            runs.iter().map(|r| r.count).collect::<Vec<_>>(),
            vec![8000, 1000]
        );
        all.sort_unstable();
        let state = store.state("t8").unwrap().clone();
        assert_eq!(store.probe(&state.runs, &all).unwrap(), all);
        // Only the runs of the last two states are on disk.
        let files = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".run")
            })
            .count();
        let named: std::collections::HashSet<&str> = store
            .states
            .iter()
            .flat_map(|s| s.runs.iter().map(|r| r.file.as_str()))
            .collect();
        assert_eq!(files, named.len());
        drop(store);
        let again = KeyStore::open(dir.path()).unwrap();
        assert_eq!(again.state("t8").unwrap(), &state);
        assert!(again.state("t7").is_some());
        assert!(again.state("t6").is_none());
    }

    #[test]
    fn a_builder_sorts_chunks_and_drops_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::open(dir.path()).unwrap();
        let mut b = store.builder();
        for k in [5u64, 3, 9, 3, 1, u64::MAX, 0] {
            b.push(k).unwrap();
        }
        let runs = b.finish().unwrap();
        let state = State {
            token: "t".into(),
            runs,
        };
        assert_eq!(state.keys(), 6);
        assert_eq!(
            store
                .probe(&state.runs, &[0, 1, 2, 3, 9, u64::MAX])
                .unwrap(),
            vec![0, 1, 3, 9, u64::MAX]
        );
    }

    #[test]
    fn a_damaged_manifest_or_run_is_reported_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST), "weir key index 1\nrun ../x 3\n").unwrap();
        let err = KeyStore::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("damaged"), "{err}");
        std::fs::remove_file(dir.path().join(MANIFEST)).unwrap();
        let store = KeyStore::open(dir.path()).unwrap();
        let run = store.write_run(&[1, 2, 3]).unwrap();
        let path = dir.path().join(&run.file);
        let len = std::fs::metadata(&path).unwrap().len();
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 8)
            .unwrap();
        let state = State {
            token: "t".into(),
            runs: vec![run],
        };
        let err = store.probe(&state.runs, &[1]).unwrap_err().to_string();
        assert!(err.contains("damaged"), "{err}");
    }

    #[test]
    fn manifests_round_trip() {
        let states = vec![
            State {
                token: "a1".into(),
                runs: vec![],
            },
            State {
                token: "b2".into(),
                runs: vec![Run {
                    file: "x.run".into(),
                    count: 7,
                }],
            },
        ];
        assert_eq!(parse_manifest(&write_manifest(&states)).unwrap(), states);
    }
}
