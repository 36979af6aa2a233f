//! Transport (in progress).
