//! What a client may send: the path a client frame takes before anything reaches
//! Asterisk ([`admit`]): read strictly ([`client_frame`]), the
//! action allowed by the bridge and by the token's role, its headers those of its
//! shape with values of the right form, its lots the token's, a retrieve's
//! destination allowed, `AMIServerID` one of the servers. What passes is rebuilt
//! from the checked headers only, under their canonical names.

use crate::client_frame::{self, ClientFrame};
use crate::destinations;
use crate::refusal::{Refusal, Refused};
use crate::tokens::{Grant, Role};
use ami_parking::Action;
use std::collections::BTreeSet;

/// The actions allowed by default: the parking set. `Originate` only as a retrieve:
/// an open Originate lets any token holder place calls anywhere (toll fraud), and
/// `Command` would run Asterisk CLI lines.
pub const DEFAULT_ALLOW: [&str; 5] = ["Parkinglots", "ParkedCalls", "Park", "Ping", "Originate"];

/// What a viewer may send.
const VIEWER_ACTIONS: [&str; 3] = ["Parkinglots", "ParkedCalls", "Ping"];

/// The longest ActionID passed on.
const MAX_ACTION_ID: usize = 128;

/// A retrieve's ring timeout (`Timeout`, ms): at most this.
pub const MAX_RING_MS: u64 = 120_000;

/// A park's timeout (`Timeout`, ms; 0: none): at most this (a day).
pub const MAX_PARK_MS: u64 = 86_400_000;

/// The form a header's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// A channel to park: `TECH/...`, printable, no spaces, at most 128.
    Channel,
    /// A retrieve's destination (the allowlist).
    Destination,
    /// A lot name: letters, digits, `_ . + -`, at most 80.
    Lot,
    /// A space: 1 to 6 digits.
    Space,
    /// A park timeout in ms, 0 to [`MAX_PARK_MS`].
    ParkTimeout,
    /// A ring timeout in ms, 1,000 to [`MAX_RING_MS`].
    RingTimeout,
    /// `ParkedCall`.
    ParkedCall,
    /// `lot,space`.
    LotSpace,
    /// `true` / `false` (or yes / no, 1 / 0).
    Bool,
}

/// An action's shape: the headers it may carry (besides `Action` and `ActionID`),
/// their forms, and which are required.
struct Shape {
    action: &'static str,
    headers: &'static [(&'static str, Form, bool)],
}

const SHAPES: [Shape; 5] = [
    Shape { action: "Ping", headers: &[] },
    Shape { action: "Parkinglots", headers: &[] },
    Shape { action: "ParkedCalls", headers: &[("ParkingLot", Form::Lot, false)] },
    Shape {
        action: "Park",
        headers: &[
            ("Channel", Form::Channel, true),
            ("Parkinglot", Form::Lot, false),
            ("ParkingSpace", Form::Space, false),
            ("Timeout", Form::ParkTimeout, false),
        ],
    },
    // Originate as a retrieve.
    Shape {
        action: "Originate",
        headers: &[
            ("Channel", Form::Destination, true),
            ("Application", Form::ParkedCall, true),
            ("Data", Form::LotSpace, true),
            ("Timeout", Form::RingTimeout, false),
            ("Async", Form::Bool, false),
        ],
    },
];

/// What the bridge lets through, apart from the tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// Allowed actions: the parking set (shaped), and those added with `--allow`
    /// (headers unchecked but for the frame's own rules; operators of every lot
    /// only). `Originate*` opens any Originate.
    pub allow: BTreeSet<String>,
    /// Where a retrieve may ring (globs); empty: endpoint channels only.
    pub retrieve_to: Vec<String>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules { allow: DEFAULT_ALLOW.iter().map(|s| s.to_string()).collect(), retrieve_to: Vec::new() }
    }
}

/// An action that passed: what goes to Asterisk (without an ActionID: the link adds
/// its own), where, and the client's ActionID to put back on the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// The action, rebuilt from its checked headers.
    pub action: Action,
    /// The server named by `AMIServerID` (1-based); `None`: every server.
    pub server: Option<u32>,
    /// The client's ActionID.
    pub action_id: Option<String>,
}

/// The headers action `name` may carry after [`admit`] (besides `Action`), or `None`
/// when any may (an action added with `--allow`, or `Originate*`).
pub fn allowed_headers(rules: &Rules, name: &str) -> Option<Vec<&'static str>> {
    if name.eq_ignore_ascii_case("Originate") && rules.allow.contains("Originate*") {
        return None;
    }
    shape(name).map(|s| s.headers.iter().map(|(h, _, _)| *h).collect())
}

fn shape(name: &str) -> Option<&'static Shape> {
    SHAPES.iter().find(|s| s.action.eq_ignore_ascii_case(name))
}

/// The path of a client frame: read, checked against `rules` and `grant`, with
/// `servers` upstream servers. What passes is the action to send.
pub fn admit(bytes: &[u8], rules: &Rules, grant: &Grant, servers: u32) -> Result<Admitted, Refusal> {
    let frame = client_frame::decode(bytes)?;
    let action_id = frame.get("ActionID").map(str::to_owned);
    let server = match &frame.server {
        None => None,
        Some(s) => match parse_server(s, servers) {
            Some(n) => Some(n),
            None => {
                let why = Refused::BadServer { given: s.clone(), servers };
                return Err(Refusal { action_id, server: None, why });
            }
        },
    };
    let refuse = |why| Refusal { action_id: action_id.clone(), server, why };
    if action_id.as_ref().is_some_and(|a| a.len() > MAX_ACTION_ID) {
        return Err(refuse(Refused::BadValue {
            action: frame.get("Action").unwrap_or_default().to_owned(),
            key: "ActionID".into(),
            why: format!("is longer than {MAX_ACTION_ID} bytes"),
        }));
    }
    let action = check(&frame, rules, grant).map_err(refuse)?;
    Ok(Admitted { action, server, action_id })
}

/// `1` to `servers`, digits only, no sign, no space, no leading zero.
fn parse_server(s: &str, servers: u32) -> Option<u32> {
    // Empty or past u32 fails the parse.
    if s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok().filter(|n| (1..=servers).contains(n))
}

/// The action the frame asks for, checked.
fn check(frame: &ClientFrame, rules: &Rules, grant: &Grant) -> Result<Action, Refused> {
    let name = frame.get("Action").filter(|a| !a.is_empty()).ok_or(Refused::NoAction)?;
    let Some(allowed) = rules.allow.iter().find(|a| a.eq_ignore_ascii_case(name)) else {
        if name.eq_ignore_ascii_case("Originate") && rules.allow.contains("Originate*") {
            return unshaped(frame, "Originate", grant);
        }
        return Err(Refused::NotAllowed {
            action: name.to_owned(),
            allowed: rules.allow.iter().cloned().collect::<Vec<_>>().join(", "),
        });
    };
    if grant.role == Role::Viewer && !VIEWER_ACTIONS.iter().any(|a| a.eq_ignore_ascii_case(name)) {
        return Err(Refused::NotForRole {
            action: name.to_owned(),
            role: "viewer",
            allowed: "Parkinglots, ParkedCalls, Ping",
        });
    }
    let is_retrieve = frame.get("Application").is_some_and(|a| a.eq_ignore_ascii_case("ParkedCall"));
    if name.eq_ignore_ascii_case("Originate") && rules.allow.contains("Originate*") && !is_retrieve {
        return unshaped(frame, "Originate", grant);
    }
    let Some(shape) = shape(name) else { return unshaped(frame, allowed, grant) };
    if shape.action == "Originate" && !is_retrieve {
        return Err(Refused::NotARetrieve);
    }
    let mut out = Action::new(shape.action);
    for (k, v) in &frame.headers {
        if k.eq_ignore_ascii_case("Action") || k.eq_ignore_ascii_case("ActionID") {
            continue;
        }
        let Some((canonical, form, _)) = shape.headers.iter().find(|(h, _, _)| h.eq_ignore_ascii_case(k))
        else {
            return Err(Refused::HeaderNotAllowed {
                action: shape.action.to_owned(),
                key: k.clone(),
                allowed: allowed_list(shape),
            });
        };
        let value = check_value(shape.action, canonical, *form, v, rules, grant)?;
        out.push(*canonical, value);
    }
    for (h, _, required) in shape.headers {
        if *required && frame.get(h).is_none() {
            return Err(Refused::Missing { action: shape.action.to_owned(), key: h });
        }
    }
    // A token scoped to lots names its lot when it parks (else Asterisk's default),
    // and parks by channel only when its line says so: a channel name reaches any
    // live call of the PBX.
    if shape.action == "Park" && grant.lots.is_some() {
        if frame.get("Parkinglot").is_none() {
            return Err(Refused::Missing { action: "Park".into(), key: "Parkinglot" });
        }
        if !grant.park_any_channel {
            return Err(Refused::ScopedPark);
        }
    }
    Ok(out)
}

fn allowed_list(shape: &Shape) -> String {
    let names: Vec<&str> = ["ActionID"].into_iter().chain(shape.headers.iter().map(|(h, _, _)| *h)).collect();
    names.join(", ")
}

/// An action without a shape (added with `--allow`, or `Originate*`): for operators
/// of every lot only; the frame's own rules (one of each header, no control
/// character) still hold.
fn unshaped(frame: &ClientFrame, name: &str, grant: &Grant) -> Result<Action, Refused> {
    if grant.role != Role::Operator || grant.lots.is_some() {
        return Err(Refused::NotForRole {
            action: name.to_owned(),
            role: if grant.role == Role::Viewer { "viewer" } else { "operator of some lots" },
            allowed: "the parking set only",
        });
    }
    let mut out = Action::new(name);
    for (k, v) in &frame.headers {
        if !k.eq_ignore_ascii_case("Action") && !k.eq_ignore_ascii_case("ActionID") {
            out.push(k.clone(), v.clone());
        }
    }
    Ok(out)
}

fn digits(v: &str, max_len: usize) -> Option<u64> {
    (!v.is_empty() && v.len() <= max_len && v.bytes().all(|b| b.is_ascii_digit())).then(|| v.parse().ok())?
}

fn is_lot(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 80
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-'))
}

fn check_value(
    action: &str,
    key: &str,
    form: Form,
    v: &str,
    rules: &Rules,
    grant: &Grant,
) -> Result<String, Refused> {
    let bad =
        |why: &str| Refused::BadValue { action: action.to_owned(), key: key.to_owned(), why: why.into() };
    let lot = |l: &str| -> Result<(), Refused> {
        if !is_lot(l) {
            return Err(bad("must be a lot name (letters, digits, '_', '.', '+', '-'; at most 80)"));
        }
        if !grant.sees_lot(l) {
            return Err(Refused::LotNotGranted { lot: l.to_owned() });
        }
        Ok(())
    };
    match form {
        Form::Channel => {
            let ok = v.len() <= 128
                && v.split_once('/').is_some_and(|(t, n)| !t.is_empty() && !n.is_empty())
                && v.bytes().all(|b| b.is_ascii_graphic());
            if !ok {
                return Err(bad("must be a channel name (TECH/..., no spaces, at most 128)"));
            }
        }
        Form::Destination => {
            let patterns = grant.retrieve_to.as_deref().unwrap_or(&rules.retrieve_to);
            if !destinations::allowed(patterns, v) {
                let allowed = if patterns.is_empty() {
                    "an endpoint TECH/name: no '@', no '/' after the name, not Local/".to_string()
                } else {
                    format!("--retrieve-to {}", patterns.join(", "))
                };
                return Err(Refused::Destination { channel: v.to_owned(), allowed });
            }
        }
        Form::Lot => lot(v)?,
        Form::Space => {
            if digits(v, 6).is_none() {
                return Err(bad("must be a space number (1 to 6 digits)"));
            }
        }
        Form::ParkTimeout => {
            if digits(v, 9).is_none_or(|ms| ms > MAX_PARK_MS) {
                return Err(bad(&format!("must be milliseconds from 0 (no timeout) to {MAX_PARK_MS}")));
            }
        }
        Form::RingTimeout => {
            if digits(v, 6).is_none_or(|ms| !(1000..=MAX_RING_MS).contains(&ms)) {
                return Err(bad(&format!("must be milliseconds from 1000 to {MAX_RING_MS}")));
            }
        }
        Form::ParkedCall => return Ok("ParkedCall".into()),
        Form::LotSpace => {
            let Some((l, s)) = v.split_once(',') else { return Err(bad("must be lot,space")) };
            if digits(s, 6).is_none() {
                return Err(bad("must be lot,space (the space 1 to 6 digits)"));
            }
            lot(l)?;
        }
        Form::Bool => {
            let b = ["true", "false", "yes", "no", "1", "0"].iter().find(|b| b.eq_ignore_ascii_case(v));
            return b.map(|b| b.to_string()).ok_or_else(|| bad("must be true or false"));
        }
    }
    Ok(v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admit_str(frame: &str, grant: &Grant) -> Result<Admitted, Refused> {
        admit(frame.as_bytes(), &Rules::default(), grant, 2).map_err(|r| r.why)
    }

    fn op() -> Grant {
        Grant::operator(0)
    }

    fn lines(a: &Admitted) -> Vec<(String, String)> {
        a.action
            .as_message()
            .iter()
            .map(|(k, v)| (String::from_utf8_lossy(k).into(), String::from_utf8_lossy(v).into()))
            .collect()
    }

    #[test]
    fn a_plain_retrieve_passes_rebuilt_from_its_checked_headers() {
        let a = admit_str(
            r#"{"Action":"originate","ActionID":"r1","channel":"PJSIP/1002","Application":"parkedcall","Data":"default,701","Timeout":"30000","Async":"true","AMIServerID":"1"}"#,
            &op(),
        )
        .unwrap();
        assert_eq!((a.server, a.action_id.as_deref()), (Some(1), Some("r1")));
        assert_eq!(
            lines(&a),
            [
                ("Action", "Originate"),
                ("Channel", "PJSIP/1002"),
                ("Application", "ParkedCall"),
                ("Data", "default,701"),
                ("Timeout", "30000"),
                ("Async", "true")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }

    #[test]
    fn toll_fraud_through_a_retrieve_is_refused() {
        let retrieve = |chan: &str, extra: &str| {
            admit_str(
                &format!(
                    r#"{{"Action":"Originate","Channel":"{chan}","Application":"ParkedCall","Data":"default,701"{extra}}}"#
                ),
                &op(),
            )
        };
        for chan in ["Local/00900123456@from-internal", "PJSIP/00900123456@my-trunk", "PJSIP/trunk/0090"] {
            assert!(matches!(retrieve(chan, ""), Err(Refused::Destination { .. })), "{chan}");
        }
        assert_eq!(
            retrieve("PJSIP/1002", r#","CallerID":"Bank <0800>""#).unwrap_err().to_string(),
            "Originate may not carry CallerID; allowed: ActionID, Channel, Application, Data, Timeout, Async"
        );
        assert_eq!(
            retrieve("PJSIP/1002", r#","Timeout":"600000""#).unwrap_err().to_string(),
            "Originate: Timeout must be milliseconds from 1000 to 120000"
        );
        assert!(retrieve("PJSIP/1002", r#","Data":"x""#).is_err());
    }

    #[test]
    fn park_carries_only_its_own_headers() {
        let park = |extra: &str| {
            admit_str(&format!(r#"{{"Action":"Park","Channel":"PJSIP/1001-0001"{extra}}}"#), &op())
        };
        assert!(park(r#","Parkinglot":"default","Timeout":"45000""#).is_ok());
        assert_eq!(
            park(r#","TimeoutChannel":"Local/0090@outbound-x""#).unwrap_err().to_string(),
            "Park may not carry TimeoutChannel; allowed: ActionID, Channel, Parkinglot, ParkingSpace, Timeout"
        );
        assert!(park(r#","AnnounceChannel":"PJSIP/x""#).is_err());
        assert!(park(r#","X-Anything":"1""#).is_err());
        assert_eq!(admit_str(r#"{"Action":"Park"}"#, &op()).unwrap_err().to_string(), "Park needs Channel");
    }

    /// What the fuzz target's oracle reads: each shaped action's headers, exactly;
    /// `Originate*` opens Originate's; an action without a shape has none.
    #[test]
    fn allowed_headers_name_each_shaped_actions_headers() {
        let park = allowed_headers(&Rules::default(), "park").expect("Park is shaped");
        assert_eq!(park, ["Channel", "Parkinglot", "ParkingSpace", "Timeout"]);
        let originate = allowed_headers(&Rules::default(), "Originate").expect("a retrieve is shaped");
        assert_eq!(originate, ["Channel", "Application", "Data", "Timeout", "Async"]);
        let mut open = Rules::default();
        open.allow.insert("Originate*".into());
        assert_eq!(allowed_headers(&open, "Originate"), None, "Originate* lets any header through");
        assert_eq!(allowed_headers(&open, "Park").as_deref(), Some(&park[..]));
        assert_eq!(allowed_headers(&Rules::default(), "CoreShowChannels"), None);
    }

    /// `Originate*` opens Originate, and only Originate: another action that is not
    /// allowed stays refused (it must not pass as an unshaped Originate).
    #[test]
    fn originate_star_opens_originate_only() {
        let mut rules = Rules::default();
        rules.allow.insert("Originate*".into());
        let admit_with = |frame: &str| admit(frame.as_bytes(), &rules, &op(), 2).map_err(|r| r.why);
        let e = admit_with(r#"{"Action":"Command","Command":"core stop now"}"#).unwrap_err();
        assert!(matches!(e, Refused::NotAllowed { .. }), "{e}");
        let any = admit_with(r#"{"Action":"Originate","Channel":"PJSIP/1002","Exten":"1"}"#).unwrap();
        assert_eq!(any.action.name(), "Originate");
    }

    /// Each value form at its edges, through `admit` (the mutation run found them
    /// untested): channel names, lot names, spaces, park timeouts.
    #[test]
    fn values_are_taken_up_to_their_limits_and_refused_past_them() {
        let park = |channel: &str, extra: &str| {
            admit_str(&format!(r#"{{"Action":"Park","Channel":"{channel}"{extra}}}"#), &op()).map(|_| ())
        };
        let long = |n: usize| format!("PJSIP/{}", "a".repeat(n - "PJSIP/".len()));
        assert_eq!(park(&long(128), ""), Ok(()), "128 bytes is a channel name");
        for bad in [long(129), "PJSIP/".into(), "/x".into(), "PJSIP/a b".into(), "PJSIP".into()] {
            assert!(matches!(park(&bad, ""), Err(Refused::BadValue { .. })), "{bad:?}");
        }
        let lot = |l: &str| park("PJSIP/1-1", &format!(r#","Parkinglot":"{l}""#));
        assert_eq!(lot("vip.2+x-y_Z9"), Ok(()));
        assert_eq!(lot(&"l".repeat(80)), Ok(()), "80 bytes is a lot name");
        for bad in ["l".repeat(81), "a b".into(), "".into(), "a/b".into()] {
            assert!(matches!(lot(&bad), Err(Refused::BadValue { .. })), "{bad:?}");
        }
        let space = |v: &str| park("PJSIP/1-1", &format!(r#","ParkingSpace":"{v}""#));
        assert_eq!(space("999999"), Ok(()));
        for bad in ["1234567", "", "12a", "-1"] {
            assert!(matches!(space(bad), Err(Refused::BadValue { .. })), "{bad:?}");
        }
        let timeout = |v: &str| park("PJSIP/1-1", &format!(r#","Timeout":"{v}""#));
        assert_eq!(timeout(&MAX_PARK_MS.to_string()), Ok(()));
        assert_eq!(timeout("0"), Ok(()));
        for bad in [(MAX_PARK_MS + 1).to_string(), "1234567890".into(), "4.5".into()] {
            assert!(matches!(timeout(&bad), Err(Refused::BadValue { .. })), "{bad:?}");
        }
    }

    /// An action let through without a shape (`--allow`, `Originate*`) is for
    /// operators of every lot only, and carries the client's headers but its Action
    /// and ActionID.
    #[test]
    fn unshaped_actions_are_for_operators_of_every_lot_and_carry_their_headers() {
        let mut rules = Rules::default();
        rules.allow.extend(["Originate*".to_string(), "CoreShowChannels".to_string()]);
        let with = |frame: &str, g: &Grant| admit(frame.as_bytes(), &rules, g, 2).map_err(|r| r.why);
        let a = with(r#"{"Action":"CoreShowChannels","ActionID":"c1","Foo":"bar"}"#, &op()).unwrap();
        assert_eq!(
            lines(&a),
            [("Action".to_string(), "CoreShowChannels".to_string()), ("Foo".into(), "bar".into())]
        );
        assert_eq!(a.action_id.as_deref(), Some("c1"));
        let viewer = Grant { role: Role::Viewer, ..op() };
        let scoped = Grant { lots: Some(["vip".to_string()].into()), ..op() };
        let originate = r#"{"Action":"Originate","Channel":"PJSIP/1002","Exten":"1"}"#;
        for (g, role) in [(&viewer, "viewer"), (&scoped, "operator of some lots")] {
            match with(originate, g) {
                Err(Refused::NotForRole { role: r, .. }) => assert_eq!(r, role),
                other => panic!("{role}: {other:?}"),
            }
        }
        assert!(matches!(
            with(r#"{"Action":"CoreShowChannels"}"#, &scoped),
            Err(Refused::NotForRole { role: "operator of some lots", .. })
        ));
    }

    #[test]
    fn an_action_id_may_be_128_bytes_and_no_more() {
        let ping = |id: &str| admit_str(&format!(r#"{{"Action":"Ping","ActionID":"{id}"}}"#), &op());
        let longest = "a".repeat(MAX_ACTION_ID);
        assert_eq!(ping(&longest).unwrap().action_id.as_deref(), Some(longest.as_str()));
        let e = ping(&"a".repeat(MAX_ACTION_ID + 1)).unwrap_err();
        assert!(e.to_string().contains("ActionID is longer than 128 bytes"), "{e}");
    }

    #[test]
    fn a_malformed_server_id_is_refused() {
        for s in [
            r#""-1""#,
            r#""x""#,
            r#"" 1""#,
            r#""0""#,
            r#""3""#,
            r#""01""#,
            "-1",
            r#""""#,
            r#""99999999999""#,
            r#""+1""#,
        ] {
            let e = admit_str(&format!(r#"{{"Action":"Ping","AMIServerID":{s}}}"#), &op()).unwrap_err();
            assert!(matches!(e, Refused::BadServer { .. }), "{s}: {e}");
        }
        assert_eq!(admit_str(r#"{"Action":"Ping","AMIServerID":2}"#, &op()).unwrap().server, Some(2));
    }

    #[test]
    fn roles_and_lots_bound_a_token() {
        let viewer = Grant { role: Role::Viewer, ..op() };
        assert!(admit_str(r#"{"Action":"ParkedCalls"}"#, &viewer).is_ok());
        assert!(matches!(
            admit_str(r#"{"Action":"Park","Channel":"PJSIP/1-1"}"#, &viewer),
            Err(Refused::NotForRole { .. })
        ));
        let vip = Grant { lots: Some(["vip".to_string()].into()), ..op() };
        let e = admit_str(r#"{"Action":"Park","Channel":"PJSIP/1-1","Parkinglot":"vip"}"#, &vip).unwrap_err();
        assert!(e.to_string().contains("park=any-channel"), "{e}");
        let vip_parks = Grant { park_any_channel: true, ..vip.clone() };
        assert!(
            admit_str(r#"{"Action":"Park","Channel":"PJSIP/1-1","Parkinglot":"vip"}"#, &vip_parks).is_ok()
        );
        assert_eq!(
            admit_str(r#"{"Action":"Park","Channel":"PJSIP/1-1","Parkinglot":"default"}"#, &vip).unwrap_err(),
            Refused::LotNotGranted { lot: "default".into() }
        );
        assert!(admit_str(r#"{"Action":"Park","Channel":"PJSIP/1-1"}"#, &vip).is_err());
        assert!(admit_str(r#"{"Action":"Originate","Channel":"PJSIP/1002","Application":"ParkedCall","Data":"default,701"}"#, &vip).is_err());
        assert!(admit_str(r#"{"Action":"ParkedCalls","ParkingLot":"default"}"#, &vip).is_err());
        let mine = Grant { retrieve_to: Some(vec!["Local/s@hold".into()]), ..op() };
        assert!(admit_str(r#"{"Action":"Originate","Channel":"Local/s@hold","Application":"ParkedCall","Data":"default,701"}"#, &mine).is_ok());
        assert!(admit_str(r#"{"Action":"Originate","Channel":"PJSIP/1002","Application":"ParkedCall","Data":"default,701"}"#, &mine).is_err());
    }

    #[test]
    fn other_actions_are_refused_with_a_reason() {
        assert_eq!(
            admit_str(r#"{"Action":"Command","Command":"core stop now"}"#, &op()).unwrap_err().to_string(),
            "action Command is not allowed by this bridge (allowed: Originate, Park, ParkedCalls, Parkinglots, Ping)"
        );
        assert_eq!(
            admit_str(r#"{"Action":"Originate","Channel":"PJSIP/1","Context":"x","Exten":"1"}"#, &op())
                .unwrap_err(),
            Refused::NotARetrieve
        );
    }
}
