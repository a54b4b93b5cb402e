//! Who owns a running execution: a pid plus the process's start time, so that a crashed run is
//! recognised even when its pid has been reused.

use weir_store::Owner;

/// Start time of a process in clock ticks since boot (field 22 of `/proc/PID/stat`).
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses; fields after it are plain.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

pub fn current_owner() -> Owner {
    let pid = std::process::id();
    Owner {
        pid,
        start: start_ticks(pid).unwrap_or(0),
    }
}

/// Whether the process that started an execution still runs.
pub fn is_alive(pid: u32, start: u64) -> bool {
    match start_ticks(pid) {
        Some(s) => start == 0 || s == start,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_wrong_start_is_not() {
        let me = current_owner();
        assert!(me.start > 0);
        assert!(is_alive(me.pid, me.start));
        assert!(!is_alive(me.pid, me.start + 1));
    }
}
