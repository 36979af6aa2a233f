//! Answers held back: a test makes the PBX keep its answers to the client's actions
//! and release them later, whole or in part, while live events go out at once. That
//! is how an answer is delayed, split, and overtaken by live events, as Asterisk's
//! answers are when other threads write events meanwhile.

use super::SimPbx;
use crate::model::ServerId;
use crate::wire::Message;
use std::collections::VecDeque;

/// One action's answer from one server, not yet written.
#[derive(Debug, Clone)]
pub(super) struct HeldAnswer {
    pub(super) server: ServerId,
    messages: VecDeque<Message>,
}

impl SimPbx {
    /// From now on (`true`) the answers to the client's actions are held until
    /// [`SimPbx::release_answer`]; live events still go out at once. Answers already
    /// held stay held when holding stops. A link that drops, a crash or a shutdown
    /// loses its server's held answers.
    ///
    /// ```
    /// use ami_parking::sim::{SimPbx, Wire};
    /// use ami_parking::Timestamp;
    /// let t = Timestamp::from_unix_millis(0);
    /// let mut pbx = SimPbx::sandbox(Wire::Ami);
    /// pbx.connect_client(1);
    /// pbx.handle_client_bytes(t, 1, b"Action: Login\r\nUsername: amiuser\r\nSecret: amisecret\r\n\r\n");
    /// pbx.take_output(1);
    /// pbx.hold_answers(true);
    /// pbx.handle_client_bytes(t, 1, b"Action: ParkedCalls\r\nActionID: 7\r\n\r\n");
    /// assert!(pbx.take_output(1).is_empty());
    /// pbx.release_answer(false);
    /// assert!(String::from_utf8(pbx.take_output(1)).unwrap().contains("ParkedCallsComplete"));
    /// ```
    pub fn hold_answers(&mut self, on: bool) {
        self.holding = on;
    }

    /// How many answers are held (one per action and server).
    pub fn held_answers(&self) -> usize {
        self.held.len()
    }

    /// Writes the oldest held answer: whole, or (`half`) its first half of messages,
    /// the rest staying first in line. Returns the server it came from.
    pub fn release_answer(&mut self, half: bool) -> Option<ServerId> {
        let h = self.held.front_mut()?;
        let server = h.server;
        let n = if half { h.messages.len() / 2 } else { h.messages.len() };
        let out: Vec<Message> = h.messages.drain(..n).collect();
        if h.messages.is_empty() {
            self.held.pop_front();
        }
        for m in out {
            self.write(server, m, false);
        }
        Some(server)
    }

    /// Keeps `m`, part of the answer to the action being handled.
    pub(super) fn hold(&mut self, server: ServerId, m: Message) {
        match self.held.back_mut() {
            Some(h) if !self.new_answer && h.server == server => h.messages.push_back(m),
            _ => self.held.push_back(HeldAnswer { server, messages: VecDeque::from([m]) }),
        }
        self.new_answer = false;
    }
}
