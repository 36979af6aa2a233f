//! The real Asterisk sandbox (scripts/asterisk-sandbox), for tests.
