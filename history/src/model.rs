//! What one row says: a parking episode and how it ended.

use serde::Serialize;

/// How a parking episode ended.
///
/// ```
/// use ami_parking_history::Outcome;
/// assert_eq!(Outcome::parse("timeout"), Some(Outcome::TimedOut));
/// assert_eq!(Outcome::TimedOut.as_str(), "timeout");
/// assert!(Outcome::Moved.is_step());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Still parked (or the recorder has not seen its end yet).
    Open,
    /// Picked up: `retrieved_by` says by whom, `retrieved_to` to which channel.
    Retrieved,
    /// The lot's parking time ran out; Asterisk sent the call back (`returned_to`).
    #[serde(rename = "timeout")]
    TimedOut,
    /// The caller hung up while parked.
    #[serde(rename = "hangup")]
    HungUp,
    /// Another channel took this parkee's place (a step: the next row, whose
    /// `previous_id` is this one, goes on).
    Swapped,
    /// Moved to another space or lot (a step: the next row goes on).
    Moved,
    /// Ended while the recorder was not watching (the link to Asterisk was down, or
    /// the recorder was not running): a resync found it gone. `ended_at` is when
    /// that was found, an upper bound; its wait is not counted in the figures.
    #[serde(rename = "ended_unwatched")]
    Unwatched,
}

impl Outcome {
    /// Every outcome, in the order above.
    pub const ALL: [Outcome; 7] = [
        Outcome::Open,
        Outcome::Retrieved,
        Outcome::TimedOut,
        Outcome::HungUp,
        Outcome::Swapped,
        Outcome::Moved,
        Outcome::Unwatched,
    ];

    /// The name stored in the database (and in JSON and CSV).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Open => "open",
            Outcome::Retrieved => "retrieved",
            Outcome::TimedOut => "timeout",
            Outcome::HungUp => "hangup",
            Outcome::Swapped => "swapped",
            Outcome::Moved => "moved",
            Outcome::Unwatched => "ended_unwatched",
        }
    }

    /// The outcome named `s` (as [`Outcome::as_str`] writes it).
    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// True for a step that another row continues (a move or a swap).
    pub fn is_step(self) -> bool {
        matches!(self, Outcome::Moved | Outcome::Swapped)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row: one parking episode, or one step of it (a move or a swap closes a step
/// and opens the next, linked by `previous_id`).
///
/// Times are milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Episode {
    /// The row's id (the database's).
    pub id: i64,
    /// The Asterisk server.
    pub server_id: u32,
    /// The lot.
    pub lot: String,
    /// The space.
    pub space: u32,
    /// The parkee's channel.
    pub channel: String,
    /// The parkee's unique id.
    pub unique_id: String,
    /// The parkee's linked id.
    pub linked_id: String,
    /// The caller's number.
    pub caller_num: String,
    /// The caller's name.
    pub caller_name: String,
    /// Who parked it: the parker's dial string, as Asterisk gave it.
    pub parker: String,
    /// The board user who parked it, when the park came from the board.
    pub parked_by_user: Option<String>,
    /// When this step began (the park, or the move or swap).
    pub parked_at: i64,
    /// When the episode began: the first step's park.
    pub first_parked_at: i64,
    /// When this step ended (`None`: open).
    pub ended_at: Option<i64>,
    /// How this step ended.
    pub outcome: Outcome,
    /// Who retrieved it: the board user when the retrieve came from the board, else
    /// the retrieving channel's caller number.
    pub retrieved_by: Option<String>,
    /// Where it went: the retrieving channel.
    pub retrieved_to: Option<String>,
    /// Where a timed-out call went back to: the parker's dial string (where Asterisk
    /// returns it with `comebacktoorigin=yes`; with `no`, the lot's `comebackcontext`).
    pub returned_to: Option<String>,
    /// The step this one continues (a move or a swap), if any.
    pub previous_id: Option<i64>,
    /// True when the park was first seen by a resync (parked while not watching):
    /// `parked_at` is then Asterisk's, from its `ParkingDuration`.
    pub seen_late: bool,
    /// The caller's wait so far at the end of this step: `ended_at - first_parked_at`.
    pub wait_ms: Option<i64>,
}

impl Episode {
    /// The CSV header matching [`Episode::csv_row`].
    pub const CSV_HEADER: &'static str = "id,server_id,lot,space,caller_num,caller_name,channel,unique_id,parker,parked_by_user,parked_at,first_parked_at,ended_at,outcome,retrieved_by,retrieved_to,returned_to,previous_id,seen_late,wait_ms";

    /// The row as one CSV line (RFC 4180 quoting, no line end). A field starting with
    /// `=`, `+`, `-` or `@` is prefixed with `'` so a spreadsheet does not run it.
    pub fn csv_row(&self) -> String {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let num = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        [
            self.id.to_string(),
            self.server_id.to_string(),
            csv_field(&self.lot),
            self.space.to_string(),
            csv_field(&self.caller_num),
            csv_field(&self.caller_name),
            csv_field(&self.channel),
            csv_field(&self.unique_id),
            csv_field(&self.parker),
            csv_field(&opt(&self.parked_by_user)),
            self.parked_at.to_string(),
            self.first_parked_at.to_string(),
            num(self.ended_at),
            self.outcome.as_str().to_owned(),
            csv_field(&opt(&self.retrieved_by)),
            csv_field(&opt(&self.retrieved_to)),
            csv_field(&opt(&self.returned_to)),
            num(self.previous_id),
            self.seen_late.to_string(),
            num(self.wait_ms),
        ]
        .join(",")
    }
}

/// One CSV field: quoted when it holds a comma, quote or line break; defused when a
/// spreadsheet would read it as a formula.
///
/// ```
/// use ami_parking_history::csv_field;
/// assert_eq!(csv_field("a,b"), "\"a,b\"");
/// assert_eq!(csv_field("=1+1"), "'=1+1");
/// assert_eq!(csv_field("5551001"), "5551001");
/// ```
pub fn csv_field(s: &str) -> String {
    // A spreadsheet runs a cell that starts (after blanks) with a formula sign; one in
    // a `;` locale splits an unquoted field at `;`. So such a cell gets a leading
    // `'`, and a field holding a separator, a quote or a line end is quoted.
    let first = s.trim_start_matches([' ', '\t', '\r', '\n']).chars().next();
    let risky = first.is_some_and(|c| {
        matches!(c, '=' | '+' | '-' | '@' | '\u{FF1D}' | '\u{FF0B}' | '\u{FF0D}' | '\u{FF20}')
    }) || s.starts_with(['\t', '\r']);
    let s = if risky { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', ';', '"', '\n', '\r', '\t']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod csv_tests {
    use super::csv_field;

    #[test]
    fn a_callers_name_never_becomes_a_spreadsheet_formula() {
        assert_eq!(csv_field("x;=2*3;y"), "\"x;=2*3;y\"", "a ; locale keeps it one cell");
        assert_eq!(csv_field(" =1+1"), "' =1+1");
        assert_eq!(csv_field("\u{FF1D}1+1"), "'\u{FF1D}1+1");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("\t=1"), "\"'\t=1\"");
        assert_eq!(csv_field("Alice Caller"), "Alice Caller");
        assert_eq!(csv_field("5551001"), "5551001");
    }
}
