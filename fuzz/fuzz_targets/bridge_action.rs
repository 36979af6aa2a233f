//! The path a client's frame takes through ami-ws-bridge: decoded, checked against
//! the policy for a token (the first byte picks the token's role, lots and
//! destinations, the rules and the number of servers), encoded as an AMI action.
//! Never a panic; and whatever passes encodes to exactly one AMI action, named as
//! allowed, each header once, every header in the allowlist of that action (and of
//! that token: its lots, its destinations), no control character.
#![no_main]

use ami_parking::ami_codec::{encode_action, Decoded, Decoder};
use ami_ws_bridge::destinations;
use ami_ws_bridge::policy::{admit, allowed_headers, Rules};
use ami_ws_bridge::tokens::{Grant, Role};
use libfuzzer_sys::fuzz_target;

fn lot_of_data(data: &str) -> &str {
    data.split(',').next().unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else { return };
    let grant = Grant {
        principal: 0,
        role: if pick & 1 == 0 { Role::Operator } else { Role::Viewer },
        lots: (pick & 2 != 0).then(|| ["vip".to_string()].into()),
        retrieve_to: (pick & 4 != 0).then(|| vec!["PJSIP/1???".to_string(), "Local/s@hold".to_string()]),
        park_any_channel: pick & 32 != 0,
    };
    let mut rules = Rules::default();
    if pick & 8 != 0 {
        rules.allow.insert("Originate*".into());
        rules.allow.insert("Command".into());
    }
    if pick & 16 != 0 {
        rules.retrieve_to = vec!["SIP/*".into()];
    }
    let servers = 1 + u32::from(pick >> 6);
    let Ok(admitted) = admit(frame, &rules, &grant, servers) else { return };
    if let Some(s) = admitted.server {
        assert!((1..=servers).contains(&s), "server {s} of {servers}");
    }
    let mut wire = Vec::new();
    encode_action(&admitted.action, &mut wire).expect("what passes encodes");
    let mut messages = Vec::new();
    Decoder::new()
        .without_banner()
        .decode(&wire, |d| {
            if let Decoded::Message(m) = d {
                messages.push(m.to_message());
            }
        })
        .expect("what passes decodes");
    assert_eq!(messages.len(), 1, "exactly one action: {:?}", String::from_utf8_lossy(&wire));
    let m = &messages[0];
    let pairs: Vec<(String, String)> = m
        .iter()
        .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    assert_eq!(pairs.len(), admitted.action.as_message().len(), "no header split or lost");
    let (first, value) = &pairs[0];
    assert_eq!(first, "Action");
    assert!(rules.allow.iter().any(|a| a.eq_ignore_ascii_case(value)) || value == "Originate", "{value}");
    for (i, (k, v)) in pairs.iter().enumerate() {
        assert!(!pairs[..i].iter().any(|(pk, _)| pk.eq_ignore_ascii_case(k)), "{k} twice");
        assert!(!v.bytes().any(|b| b < 0x20 || b == 0x7f), "control character in {k}");
        assert!(!k.eq_ignore_ascii_case("ActionID") && !k.eq_ignore_ascii_case("AMIServerID"), "{k}");
    }
    let shaped = allowed_headers(&rules, value);
    let privileged = grant.role == Role::Operator && grant.lots.is_none();
    if grant.role == Role::Viewer {
        assert!(["Parkinglots", "ParkedCalls", "Ping"].contains(&value.as_str()), "a viewer sent {value}");
    }
    let Some(allowed) = shaped else {
        assert!(privileged, "an unshaped {value} for {grant:?}");
        return;
    };
    for (k, v) in &pairs[1..] {
        assert!(allowed.contains(&k.as_str()), "{value} carried {k}");
        let lot = match k.as_str() {
            "Parkinglot" | "ParkingLot" => Some(v.as_str()),
            "Data" => Some(lot_of_data(v)),
            _ => None,
        };
        if let Some(lot) = lot {
            assert!(grant.sees_lot(lot), "lot {lot} for {grant:?}");
        }
        if value == "Originate" && k == "Channel" {
            let patterns = grant.retrieve_to.as_deref().unwrap_or(&rules.retrieve_to);
            assert!(destinations::allowed(patterns, v), "a retrieve to {v}");
        }
    }
    if value == "Originate" {
        assert!(pairs.iter().any(|(k, v)| k == "Application" && v == "ParkedCall"), "a retrieve");
    }
});
