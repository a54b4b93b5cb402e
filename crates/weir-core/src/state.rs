//! The states of executions and task runs, and which of them are final.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The state of an execution or of one task run.
///
/// Names and meanings follow Kestra so that users reading weir's output see familiar words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Created,
    Queued,
    Running,
    Retrying,
    Success,
    Warning,
    Failed,
    Killed,
    Cancelled,
    Skipped,
    /// A failed or killed execution put back in the queue to run again.
    Restarted,
    /// Stopped at a `Pause` task until it is resumed (or its pause duration ends).
    Paused,
}

impl State {
    pub const ALL: [State; 12] = [
        State::Created,
        State::Queued,
        State::Running,
        State::Retrying,
        State::Success,
        State::Warning,
        State::Failed,
        State::Killed,
        State::Cancelled,
        State::Skipped,
        State::Restarted,
        State::Paused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Created => "CREATED",
            State::Queued => "QUEUED",
            State::Running => "RUNNING",
            State::Retrying => "RETRYING",
            State::Success => "SUCCESS",
            State::Warning => "WARNING",
            State::Failed => "FAILED",
            State::Killed => "KILLED",
            State::Cancelled => "CANCELLED",
            State::Skipped => "SKIPPED",
            State::Restarted => "RESTARTED",
            State::Paused => "PAUSED",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    /// A terminated state never changes again.
    pub fn is_terminated(self) -> bool {
        matches!(
            self,
            State::Success
                | State::Warning
                | State::Failed
                | State::Killed
                | State::Cancelled
                | State::Skipped
        )
    }

    /// Whether a run that ended in this state counts as failed for `errors` handlers and exit codes.
    pub fn is_failure(self) -> bool {
        matches!(self, State::Failed | State::Killed | State::Cancelled)
    }

    /// The worse of two terminal states, used to roll child states up into a parent.
    pub fn worst(self, other: State) -> State {
        fn rank(s: State) -> u8 {
            // A pause stops the branches around it, but a failure beside it still wins.
            match s {
                State::Killed => 7,
                State::Failed => 6,
                State::Cancelled => 5,
                State::Paused => 4,
                State::Warning => 3,
                State::Success => 2,
                State::Skipped => 1,
                _ => 0,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("nope"), None);
    }

    #[test]
    fn worst_prefers_failure() {
        assert_eq!(State::Success.worst(State::Warning), State::Warning);
        assert_eq!(State::Failed.worst(State::Warning), State::Failed);
        assert_eq!(State::Skipped.worst(State::Success), State::Success);
        assert_eq!(State::Warning.worst(State::Paused), State::Paused);
        assert_eq!(State::Paused.worst(State::Failed), State::Failed);
        assert!(!State::Paused.is_terminated() && !State::Paused.is_failure());
    }
}
