//! DuckDB's shared library, loaded when a DuckDB warehouse is first used rather than when the
//! process starts.
//!
//! `libduckdb.so` is 70 MB: linked as a needed library, the dynamic loader maps and relocates it
//! before `main`, which cost every command (`weir --version`, a flow of Log tasks) about 8 ms.
//! Instead, `libduckdb-sys` is built with its `loadable-extension` feature, in which every
//! `duckdb_*` function is a call through a function pointer that an init function fills from
//! DuckDB's extension API table (`duckdb_ext_api_v1`). weir opens the library itself with
//! `dlopen`, builds that table by looking each function up by name (`api.rs` lists them, checked
//! against the table's layout at compile time) and hands it to the init function.
//!
//! Where the library is looked for, in order: `WEIR_DUCKDB_LIB` alone when it is set (a file, or
//! a folder holding `libduckdb.so`); else the `DUCKDB_LIB_DIR` of the build (`.duckdb/` in the
//! clone, set by `.cargo/config.toml`), then the folder of the `weir` executable, then the
//! dynamic loader's own search (`LD_LIBRARY_PATH`, the system's library folders).

use std::ffi::{CStr, CString, c_char, c_void};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use duckdb::ffi;

/// Declares `NAMES`, the table's functions in its order, and proves at compile time that they are
/// exactly the fields of `duckdb_ext_api_v1`, each at its offset.
macro_rules! api_table {
    ($($name:ident),* $(,)?) => {
        /// Each function's name, NUL-terminated, in the order of the table's fields.
        pub(super) const NAMES: &[&str] = &[$(concat!(stringify!($name), "\0")),*];

        const _: () = {
            let slot = std::mem::size_of::<*const std::ffi::c_void>();
            let mut i = 0;
            $(
                assert!(std::mem::offset_of!(duckdb::ffi::duckdb_ext_api_v1, $name) == i * slot);
                i += 1;
            )*
            assert!(std::mem::size_of::<duckdb::ffi::duckdb_ext_api_v1>() == i * slot);
        };
    };
}

mod api;

/// The library's file name on this system (`libduckdb.so`, `libduckdb.dylib`).
fn file_name() -> String {
    format!(
        "{}duckdb{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// The DuckDB release weir's bindings are made for; a library of another minor version is
/// refused (its functions may take other arguments).
const EXPECTED_VERSION: &str = "v1.5.";

/// Set once the function table is filled: every later check is one load.
static LOADED: AtomicBool = AtomicBool::new(false);
/// Serialises the first load between threads opening warehouses at once.
static LOADING: Mutex<()> = Mutex::new(());

/// Why DuckDB's library could not be used; the message names every path tried and says how to
/// get the library.
#[derive(Debug)]
pub(crate) struct LibraryError {
    tried: Vec<(String, String)>,
}

impl std::fmt::Display for LibraryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot load DuckDB's library")?;
        for (path, why) in &self.tried {
            write!(f, "\n  tried `{path}`: {why}")?;
        }
        write!(
            f,
            "\nhint: run `dev/install-duckdb` in weir's clone, or set {} to the path of \
             DuckDB {}x's {}",
            weir_core::env::WEIR_DUCKDB_LIB,
            EXPECTED_VERSION,
            file_name()
        )
    }
}

/// The places to look for the library, in order.
fn candidates() -> Vec<PathBuf> {
    let name = file_name();
    if let Some(lib) = std::env::var_os(weir_core::env::WEIR_DUCKDB_LIB).filter(|v| !v.is_empty()) {
        let lib = PathBuf::from(lib);
        return vec![if lib.is_dir() { lib.join(&name) } else { lib }];
    }
    let mut out = Vec::new();
    if let Some(dir) = option_env!("WEIR_DUCKDB_BUILD_DIR") {
        out.push(Path::new(dir).join(&name));
    }
    // Beside the executable: a release folder that ships the library with `weir`.
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        out.push(dir.join(&name));
    }
    // A bare name: the dynamic loader's search (LD_LIBRARY_PATH, ld.so.cache, /usr/lib…).
    out.push(PathBuf::from(name));
    out
}

/// Loads DuckDB's library and fills the function table, once per process. Cheap after the first
/// success; a failure is tried again on the next call (a library installed meanwhile is found).
pub(crate) fn ensure_loaded() -> Result<(), LibraryError> {
    if LOADED.load(Ordering::Acquire) {
        return Ok(());
    }
    let _guard = LOADING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if LOADED.load(Ordering::Acquire) {
        return Ok(());
    }
    let mut tried = Vec::new();
    for path in candidates() {
        match load_from(&path) {
            Ok(()) => {
                LOADED.store(true, Ordering::Release);
                return Ok(());
            }
            Err(why) => tried.push((path.display().to_string(), why)),
        }
    }
    Err(LibraryError { tried })
}

#[cfg(unix)]
#[allow(unsafe_code)]
fn load_from(path: &Path) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: `c_path` is a NUL-terminated string that lives across the call. Loading runs the
    // library's initialisers; DuckDB's are its own static tables and touch nothing of weir's.
    // RTLD_LAZY: functions are bound when first called, so only those weir uses pay for it.
    let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return Err(dl_error());
    }
    let mut table: Vec<*mut c_void> = Vec::with_capacity(api::NAMES.len());
    for name in api::NAMES {
        // SAFETY: `handle` is a live handle (never closed), `name` is NUL-terminated (`api.rs`).
        let f = unsafe { libc::dlsym(handle, name.as_ptr().cast::<c_char>()) };
        if f.is_null() {
            let name = name.trim_end_matches('\0');
            return Err(format!(
                "it has no function `{name}`: not DuckDB {EXPECTED_VERSION}x's library"
            ));
        }
        table.push(f);
    }
    TABLE.store(table.as_mut_ptr().cast(), Ordering::Release);
    let access = ffi::duckdb_extension_access {
        set_error: None,
        get_database: None,
        get_api: Some(get_api),
    };
    // SAFETY: `get_api` returns `table`, which holds one function pointer per field of
    // `duckdb_ext_api_v1` in its order (`api_table!` proves the order and size at compile time),
    // each the library's function of that field's name; the init function copies them into the
    // bindings' statics before returning, so `table` may then be dropped.
    let filled = unsafe { ffi::duckdb_rs_extension_api_init(std::ptr::null_mut(), &access, "") };
    TABLE.store(std::ptr::null_mut(), Ordering::Release);
    drop(table);
    match filled {
        Ok(true) => {}
        Ok(false) | Err(_) => return Err("its function table could not be filled".into()),
    }
    // SAFETY: the table is filled; `duckdb_library_version` returns a static C string.
    let version = unsafe { CStr::from_ptr(ffi::duckdb_library_version()) }
        .to_string_lossy()
        .into_owned();
    if !version.starts_with(EXPECTED_VERSION) {
        return Err(format!(
            "it is DuckDB {version}; weir needs DuckDB {EXPECTED_VERSION}x"
        ));
    }
    // The handle is kept for the life of the process: DuckDB's functions stay callable.
    Ok(())
}

#[cfg(not(unix))]
fn load_from(_path: &Path) -> Result<(), String> {
    Err("loading DuckDB's library is implemented for Unix systems only".into())
}

/// The table being handed to the bindings' init function (null outside of it).
static TABLE: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());

/// DuckDB's `get_api` callback, as the bindings' init function calls it.
#[allow(unsafe_code)]
unsafe extern "C" fn get_api(
    _info: ffi::duckdb_extension_info,
    _version: *const c_char,
) -> *const c_void {
    TABLE.load(Ordering::Acquire)
}

/// The dynamic loader's message for the last failure.
#[cfg(unix)]
#[allow(unsafe_code)]
fn dl_error() -> String {
    // SAFETY: `dlerror` returns null or a NUL-terminated string valid until the next dl call on
    // this thread, copied before any.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "the dynamic loader gave no reason".into()
    } else {
        // SAFETY: see above.
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_function_once() {
        let mut names: Vec<&str> = api::NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), api::NAMES.len());
        assert!(
            api::NAMES
                .iter()
                .all(|n| n.ends_with('\0') && n.starts_with("duckdb_"))
        );
    }

    #[test]
    fn loads_the_build_library_and_reports_its_version() {
        ensure_loaded().expect("the build's library loads");
        // SAFETY: loaded above.
        #[allow(unsafe_code)]
        let v = unsafe { CStr::from_ptr(ffi::duckdb_library_version()) };
        assert!(v.to_str().unwrap().starts_with(EXPECTED_VERSION), "{v:?}");
    }

    #[test]
    fn a_missing_library_names_the_path_and_the_fix() {
        let err = load_from(Path::new("/nonexistent/weir-test/libduckdb.so")).unwrap_err();
        assert!(err.contains("/nonexistent/weir-test/libduckdb.so"), "{err}");
        let shown = LibraryError {
            tried: vec![("/x/libduckdb.so".into(), err)],
        }
        .to_string();
        assert!(shown.contains("tried `/x/libduckdb.so`"), "{shown}");
        assert!(shown.contains("dev/install-duckdb"), "{shown}");
        assert!(shown.contains("WEIR_DUCKDB_LIB"), "{shown}");
    }

    #[test]
    fn a_library_that_is_not_duckdb_is_refused() {
        // libc is a shared library without DuckDB's functions.
        let err = load_from(Path::new("libc.so.6")).unwrap_err();
        assert!(err.contains("no function `duckdb_open`"), "{err}");
    }
}
