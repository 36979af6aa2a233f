//! What the property suite reached: each transition and each situation worth
//! reaching, counted per case (a case counts once for each row it reached), printed
//! as a table after the run.

use super::Op;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// Rows reached by the case that runs now.
static CASE: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
/// Cases that reached each row, and cases run.
static TOTAL: Mutex<(BTreeMap<&'static str, u64>, u64)> = Mutex::new((BTreeMap::new(), 0));

/// The case reached `row`.
pub fn saw(row: &'static str) {
    CASE.lock().unwrap_or_else(|e| e.into_inner()).insert(row);
}

/// A case begins: the last one's rows are added up.
pub fn new_case() {
    let rows = std::mem::take(&mut *CASE.lock().unwrap_or_else(|e| e.into_inner()));
    let mut t = TOTAL.lock().unwrap_or_else(|e| e.into_inner());
    for r in rows {
        *t.0.entry(r).or_default() += 1;
    }
    t.1 += 1;
}

/// The table: each row with the share of cases that reached it.
pub fn table() -> String {
    new_case();
    let t = TOTAL.lock().unwrap_or_else(|e| e.into_inner());
    let cases = t.1.saturating_sub(1).max(1);
    let mut out = format!("{:<44} {:>8} {:>7}\n", "reached", "cases", "share");
    for (row, n) in &t.0 {
        out += &format!("{row:<44} {n:>8} {:>6.1}%\n", *n as f64 * 100.0 / cases as f64);
    }
    out + &format!("{:<44} {cases:>8}\n", "cases run")
}

/// The row of a transition.
pub fn row(op: &Op) -> &'static str {
    match op {
        Op::Park { preferred: Some(_), .. } => "op: park at a preferred space",
        Op::Park { .. } => "op: park",
        Op::Retrieve { .. } => "op: retrieve (a phone)",
        Op::GiveUp { .. } => "op: caller hangs up",
        Op::Swap { .. } => "op: swap",
        Op::Reuse { .. } => "op: retrieve + park into the same space",
        Op::Move { .. } => "op: move (the PBX)",
        Op::ClientMove { .. } => "op: move_call",
        Op::Wait { .. } => "op: time passes",
        Op::Refresh { .. } => "op: refresh",
        Op::HeldRefresh { .. } => "op: list with the answer held",
        Op::Deliver { half: true } => "op: half a held answer written",
        Op::Deliver { half: false } => "op: a held answer written",
        Op::ClientPark { .. } => "op: park_call",
        Op::ClientRetrieve { .. } => "op: retrieve_call",
        Op::Disconnect => "op: link drops",
        Op::Reconnect => "op: link back",
        Op::CleanRestart { .. } => "op: Asterisk restarts cleanly",
        Op::Crash { .. } => "op: Asterisk crashes",
        Op::Rechunk { .. } => "op: new chunking",
    }
}
