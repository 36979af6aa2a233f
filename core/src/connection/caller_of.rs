//! Parking the caller of a phone ([`Request::ParkCallerOf`]): one `Status` list (the
//! least-privilege user may run it: it is registered with the `call` right, where
//! `CoreShowChannels` needs `system` or `reporting`), read for the phone's one bridged
//! channel and the other channel in that bridge (`BridgeID`); then the `Park` of that
//! channel, answered on its `ParkedCall` like any park.

use super::pending::Acc;
use super::request::{Request, RequestId, Target};
use super::requests::park_action;
use super::timers::Timer;
use super::Connection;
use crate::error::ParkingError;
use crate::model::{ChannelStatus, ServerId};
use crate::time::Timestamp;

impl Connection {
    /// `server`'s `Status` list for request `id` ended: park the caller, or say why not.
    pub(super) fn caller_listed(&mut self, now: Timestamp, id: RequestId, server: ServerId) {
        let default_lot = self.store.options().default_parking_lot.clone();
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        let (Request::ParkCallerOf { phone, park }, Acc::CallerOf { items }) = (&p.req, &mut p.acc) else {
            return;
        };
        let listed: Vec<ChannelStatus> =
            std::mem::take(items).iter().filter_map(ChannelStatus::from_message).collect();
        let caller = match pick_caller(phone, server, &listed) {
            Ok(caller) => caller.channel.to_string(),
            Err(e) => return self.server_done(now, id, server, Err(e)),
        };
        let action = match park_action(&caller, park, &default_lot) {
            Ok(a) => a,
            Err(e) => return self.server_done(now, id, server, Err(e)),
        };
        // The same request goes on as a park of the caller's channel, under a new ActionID.
        let old = std::mem::replace(&mut p.action_id, self.ids.next());
        let aid = p.action_id.clone();
        p.acc = Acc::Park { accepted: false, channel: caller };
        let server_header = match p.target {
            Target::Server(s) => Some(s),
            Target::All => None,
        };
        let deadline = now + self.cfg.request_timeout;
        p.deadline = deadline;
        self.ids.unbind(&old);
        self.ids.bind(aid.clone(), id);
        self.timers.set(Timer::Request(id), deadline);
        if let Err(e) = self.send(&action, &aid, server_header) {
            self.server_done(now, id, server, Err(e.into()));
        }
    }
}

/// The caller of `phone` among the channels `listed`: the other channel in the bridge
/// of the phone's one bridged channel.
///
/// ```
/// use ami_parking::{pick_caller, ChannelStatus, ParkingError};
/// let ch = |name: &str, bridge: &str| ChannelStatus {
///     channel: name.into(), state: "Up".into(), bridge_id: bridge.into(), ..Default::default()
/// };
/// let listed = [ch("PJSIP/1001-0000000b", "b1"), ch("PJSIP/trunk-0000000a", "b1"), ch("PJSIP/1002-0000000c", "")];
/// assert_eq!(pick_caller("PJSIP/1001", 1, &listed).unwrap().channel, "PJSIP/trunk-0000000a");
/// assert!(matches!(pick_caller("PJSIP/1002", 1, &listed), Err(ParkingError::PhoneCallNotBridged { .. })));
/// assert!(matches!(pick_caller("PJSIP/1003", 1, &listed), Err(ParkingError::PhoneHasNoCall { .. })));
/// ```
pub fn pick_caller<'a>(
    phone: &str,
    server_id: ServerId,
    listed: &'a [ChannelStatus],
) -> Result<&'a ChannelStatus, ParkingError> {
    let mine: Vec<&ChannelStatus> = listed.iter().filter(|c| c.belongs_to(phone)).collect();
    if mine.is_empty() {
        return Err(ParkingError::PhoneHasNoCall { phone: phone.into(), server_id });
    }
    // Each bridged channel of the phone, with the others in its bridge (a Local
    // channel's two halves both belong to the phone; only one of them is bridged).
    let peers_of = |c: &ChannelStatus| -> Vec<&'a ChannelStatus> {
        listed.iter().filter(|o| o.bridge_id == c.bridge_id && o.channel != c.channel).collect()
    };
    let calls: Vec<(&ChannelStatus, Vec<&ChannelStatus>)> = mine
        .iter()
        .filter(|c| c.is_bridged())
        .map(|c| (*c, peers_of(c)))
        // A bridge of the phone's own channels only (a Local channel bridged to its
        // other half's bridge) is no call with a caller.
        .filter(|(_, peers)| peers.iter().any(|o| !o.belongs_to(phone)))
        .collect();
    match calls.as_slice() {
        [] => Err(ParkingError::PhoneCallNotBridged {
            phone: phone.into(),
            channels: mine.iter().map(|c| format!("{}: {}", c.channel, state(c))).collect(),
            server_id,
        }),
        [(mine, peers)] => {
            let others: Vec<&&ChannelStatus> = peers.iter().filter(|o| !o.belongs_to(phone)).collect();
            match others.as_slice() {
                [one] => Ok(one),
                many => Err(ParkingError::CallerUnclear {
                    phone: phone.into(),
                    channel: mine.channel.to_string(),
                    others: many.iter().map(|c| describe(c)).collect(),
                    server_id,
                }),
            }
        }
        several => Err(ParkingError::PhoneHasSeveralCalls {
            phone: phone.into(),
            calls: several
                .iter()
                .map(|(c, peers)| {
                    let with: Vec<String> =
                        peers.iter().filter(|o| !o.belongs_to(phone)).map(|o| describe(o)).collect();
                    format!("{} with {}", c.channel, with.join(", "))
                })
                .collect(),
            server_id,
        }),
    }
}

fn state(c: &ChannelStatus) -> &str {
    if c.state.is_empty() {
        "state unknown"
    } else {
        &c.state
    }
}

/// `PJSIP/trunk-0000000a (Alice 5551001)`.
fn describe(c: &ChannelStatus) -> String {
    let who = [c.caller_id_name.as_str(), c.caller_id_num.as_str()]
        .iter()
        .filter(|s| !s.is_empty() && **s != "<unknown>")
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    if who.is_empty() {
        c.channel.to_string()
    } else {
        format!("{} ({who})", c.channel)
    }
}
