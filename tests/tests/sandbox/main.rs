//! Tests against a real Asterisk 22: the sandbox of `scripts/asterisk-sandbox` (root,
//! to build and run its chroot; instance `b` for the two-server tests). Each test starts
//! the sandbox if it is not running, or fails, unless `AMI_PARKING_ALLOW_SKIP=1`. They
//! share one PBX, so they run one at a time (`live::LOCK`), whatever `--test-threads`.
//!
//! `cargo test -p ami-parking-tests --test sandbox`. The load run on the sandbox is its
//! own binary (`--test sandbox_load`): it takes a minute and its knobs.

mod asterisk;
mod asterisk_caller_of;
mod asterisk_operations;
mod asterisk_swap;
mod differential;
mod faults;
