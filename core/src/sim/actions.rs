//! The client's actions, answered as Asterisk 22 answers them: one function per
//! action. Before login only `Login` (and the MD5 login's `Challenge`) is accepted.

use super::{wire, SimCall, SimPbx};
use crate::model::ServerId;
use crate::time::Timestamp;
use crate::wire::ami_codec::{Decoded, Decoder};
use crate::wire::{amiws, Message};

/// The challenge an MD5 login signs (`Action: Challenge`, `AuthType: MD5`).
/// The MD5 challenge the model hands out (`Action: Challenge`).
pub const CHALLENGE: &str = "840212345";

/// Whether the model accepts login `a`: user `amiuser`, secret `amisecret`, plain or
/// MD5 over [`CHALLENGE`]. (The demo PBX checks each of its clients' logins with it.)
pub fn login_accepted(a: &Message) -> bool {
    let key = if a.is("AuthType", "MD5") {
        use md5::{Digest, Md5};
        let digest = Md5::digest(format!("{CHALLENGE}amisecret").as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        a.get_str("Key").is_some_and(|k| k == hex)
    } else {
        a.get_str("Secret").as_deref() == Some("amisecret")
    };
    a.is("Username", "amiuser") && key
}

/// The `FullyBooted` event Asterisk sends after a login.
pub fn fully_booted() -> Message {
    Message::from_pairs([
        ("Event", "FullyBooted"),
        ("Privilege", "system,all"),
        ("Uptime", "1"),
        ("LastReload", "1"),
        ("Status", "Fully Booted"),
    ])
}

impl SimPbx {
    /// The client sent raw AMI bytes to `server` (complete actions).
    pub fn handle_client_bytes(&mut self, now: Timestamp, server: ServerId, bytes: &[u8]) {
        let mut d = Decoder::new().without_banner();
        let mut actions = Vec::new();
        let _ = d.decode(bytes, |i| {
            if let Decoded::Message(m) = i {
                actions.push(m.to_message());
            }
        });
        for a in actions {
            self.handle_action(now, server, &a);
        }
    }

    /// The client sent one amiws frame (a flat JSON object); `AMIServerID` picks the
    /// server, without it every server answers.
    pub fn handle_client_frame(&mut self, now: Timestamp, frame: &[u8]) {
        let Ok((action, target)) = amiws::decode_action_frame(frame) else { return };
        let servers: Vec<ServerId> = match target {
            Some(t) => self.server_ids().into_iter().filter(|s| *s == t).collect(),
            None => self.server_ids(),
        };
        for s in servers {
            if self.is_up(s) {
                self.handle_action(now, s, &action);
            }
        }
    }

    /// One action from the client of `server`.
    pub fn handle_action(&mut self, now: Timestamp, server: ServerId, a: &Message) {
        self.new_answer = true;
        let aid = a.get_str("ActionID").map(|v| v.into_owned());
        let aid = aid.as_deref();
        let name = a.get_str("Action").unwrap_or_default().to_ascii_lowercase();
        let logged_in = self.srv_ref(server).is_some_and(|s| s.logged_in);
        if !logged_in && name != "login" && name != "challenge" {
            return self.reply(server, aid, &[("Response", "Error"), ("Message", "Permission denied")]);
        }
        match name.as_str() {
            "challenge" if a.is("AuthType", "MD5") => {
                self.reply(server, aid, &[("Response", "Success"), ("Challenge", CHALLENGE)])
            }
            "login" => self.login(server, aid, a),
            "logoff" => self.logoff(server, aid),
            "ping" => {
                let ts = format!("{}.000000", now.as_unix_millis() / 1000);
                self.reply(server, aid, &[("Response", "Success"), ("Ping", "Pong"), ("Timestamp", &ts)])
            }
            "parkinglots" => self.parkinglots(server, aid),
            "parkedcalls" => self.parkedcalls(now, server, aid, a),
            "park" => self.park_action(now, server, aid, a),
            "status" => self.status(server, aid),
            "originate" if a.is("Application", "ParkedCall") => self.originate_retrieve(now, server, aid, a),
            _ => {
                // As captured (`lists-refused-while-booting`).
                let action = a.get_str("Action").unwrap_or_default();
                let msg = format!(
                    "Invalid/unknown command: {action}. Use Action: ListCommands to show available commands."
                );
                self.reply(server, aid, &[("Response", "Error"), ("Message", &msg)])
            }
        }
    }

    fn reply(&mut self, server: ServerId, aid: Option<&str>, pairs: &[(&str, &str)]) {
        self.answer(server, wire::response(aid, pairs));
    }

    /// `Login`: user `amiuser`, secret `amisecret` (plain, or MD5 over `CHALLENGE`).
    fn login(&mut self, server: ServerId, aid: Option<&str>, a: &Message) {
        let ok = login_accepted(a);
        if let Ok(s) = self.srv(server) {
            s.logged_in = ok;
        }
        if !ok {
            return self.reply(server, aid, &[("Response", "Error"), ("Message", "Authentication failed")]);
        }
        self.reply(server, aid, &[("Response", "Success"), ("Message", "Authentication accepted")]);
        self.emit(server, fully_booted());
    }

    fn logoff(&mut self, server: ServerId, aid: Option<&str>) {
        self.reply(server, aid, &[("Response", "Goodbye"), ("Message", "Thanks for all the fish.")]);
        self.disconnect_client(server);
    }

    fn parkinglots(&mut self, server: ServerId, aid: Option<&str>) {
        let lots = self.lots(server);
        for m in wire::parking_lots_answer(aid, &lots) {
            self.answer(server, m);
        }
    }

    /// `ParkedCalls`, all lots or one (`ParkingLot`); an unknown lot is an Error.
    fn parkedcalls(&mut self, now: Timestamp, server: ServerId, aid: Option<&str>, a: &Message) {
        let lot = a.get_str("ParkingLot").map(|v| v.into_owned());
        if let Some(l) = &lot {
            if !self.lots(server).iter().any(|x| &x.name == l) {
                let msg = "Requested parking lot could not be found.";
                return self.reply(server, aid, &[("Response", "Error"), ("Message", msg)]);
            }
        }
        let calls: Vec<SimCall> =
            self.calls(server).into_iter().filter(|c| lot.as_ref().is_none_or(|l| &c.lot == l)).collect();
        for m in wire::parked_calls_answer(aid, &calls, now) {
            self.answer(server, m);
        }
    }

    /// `Status`: each phone on the line with a caller, the two channels in one bridge.
    fn status(&mut self, server: ServerId, aid: Option<&str>) {
        let calls = self.desk_calls(server);
        self.answer(server, wire::list_start(aid, "Channel status will follow"));
        let mut n = 0;
        for (i, (phone, num)) in calls.iter().enumerate() {
            let bridge = format!("sim-bridge-{i}");
            let phone_channel = format!("{phone}-{:08x}", 2 * i + 1);
            let caller_channel = format!("Local/caller-{num}-{:08x};1", 2 * i);
            let name = format!("Customer {num}");
            for (ch, cid, cname) in
                [(phone_channel.as_str(), "", ""), (caller_channel.as_str(), num.as_str(), name.as_str())]
            {
                let pairs = [
                    ("Event", "Status"),
                    ("Channel", ch),
                    ("ChannelState", "6"),
                    ("ChannelStateDesc", "Up"),
                    ("CallerIDNum", cid),
                    ("CallerIDName", cname),
                    ("BridgeID", bridge.as_str()),
                ];
                self.answer(server, wire::response(aid, &pairs));
                n += 1;
            }
        }
        self.answer(server, wire::list_end(aid, "StatusComplete", n));
    }

    /// `Park` ([`SimPbx::park_channel`]): the answer goes out before the `ParkedCall`.
    fn park_action(&mut self, now: Timestamp, server: ServerId, aid: Option<&str>, a: &Message) {
        let channel = a.get_str("Channel").map(|v| v.into_owned()).unwrap_or_default();
        let lot = a.get_str("Parkinglot").map(|v| v.into_owned()).unwrap_or_else(|| "default".into());
        let timeout = a.get_str("Timeout").and_then(|t| t.parse::<u64>().ok()).map(|ms| ms / 1000);
        let preferred = a.get_str("ParkingSpace").and_then(|s| s.trim().parse::<u32>().ok());
        if let Some((from_lot, from_space)) = self.parked_place(server, &channel) {
            // A parked channel: a move.
            if self.plan_move(server, &from_lot, from_space, &lot, preferred).is_err() {
                return self.reply(
                    server,
                    aid,
                    &[("Response", "Error"), ("Message", "Park action failed\n")],
                );
            }
            self.reply(server, aid, &[("Response", "Success"), ("Message", "Park successful\n")]);
            let _ = self.move_call(now, server, &from_lot, from_space, &lot, preferred);
            return;
        }
        match self.plan_park(server, &channel, &lot, timeout, preferred) {
            Ok(None) => {
                let msg = format!("Channel does not exist: {channel}");
                self.reply(server, aid, &[("Response", "Error"), ("Message", &msg)])
            }
            Err(_) => self.reply(server, aid, &[("Response", "Error"), ("Message", "Park action failed\n")]),
            Ok(Some((num, ..))) => {
                self.reply(server, aid, &[("Response", "Success"), ("Message", "Park successful\n")]);
                // The caller's bridge ends: the phone it was on with hangs up.
                if let Ok(s) = self.srv(server) {
                    s.desk_calls.retain(|(_, n)| *n != num);
                }
                let _ = self.park_channel(now, server, &channel, &lot, timeout, preferred);
            }
        }
    }

    /// `Originate` of `ParkedCall(lot,space)`: queued, then the retrieve (the phone
    /// answers at once: [`SimPbx::retrieve_to`]) and `OriginateResponse`.
    fn originate_retrieve(&mut self, now: Timestamp, server: ServerId, aid: Option<&str>, a: &Message) {
        let data = a.get_str("Data").map(|v| v.into_owned()).unwrap_or_default();
        let (lot, space) = data
            .split_once(',')
            .map(|(l, s)| (l.to_string(), s.trim().parse::<u32>().unwrap_or(0)))
            .unwrap_or(("default".into(), 0));
        let to = a.get_str("Channel").map(|v| v.into_owned()).unwrap_or_default();
        self.reply(server, aid, &[("Response", "Success"), ("Message", "Originate successfully queued")]);
        let ok = self.retrieve_to(now, server, &lot, space, &to).is_ok();
        let mut m = Message::new();
        m.push(b"Event", b"OriginateResponse");
        m.push(b"Privilege", b"call,all");
        if let Some(id) = aid {
            m.push(b"ActionID", id.as_bytes());
        }
        m.push(b"Response", if ok { b"Success" as &[u8] } else { b"Failure" });
        m.push(b"Channel", to.as_bytes());
        m.push(b"Application", b"ParkedCall");
        m.push(b"Data", data.as_bytes());
        m.push(b"Reason", if ok { b"4" as &[u8] } else { b"0" });
        self.emit(server, m);
    }
}
