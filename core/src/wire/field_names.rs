//! The header names of the parking blocks: which field of a parkee block, a
//! retriever block or a message's head a header names, found by a perfect hash of
//! the names (ASCII case-insensitive). [`super::fields`] reads the values.

pub(super) const F_SPACE: usize = 0;
pub(super) const F_EXTEN: usize = 1;
pub(super) const F_LOT: usize = 2;
pub(super) const F_TIMEOUT: usize = 3;
pub(super) const F_TIMEOUT11: usize = 4;
pub(super) const F_DURATION: usize = 5;
pub(super) const F_DURATION11: usize = 6;
pub(super) const F_CHANNEL: usize = 7;
pub(super) const F_CHANNEL11: usize = 8;
pub(super) const F_UID: usize = 9;
pub(super) const F_UID11: usize = 10;
pub(super) const F_LINKED: usize = 11;
pub(super) const F_LINKED11: usize = 12;
pub(super) const F_CID_NUM: usize = 13;
pub(super) const F_CID_NUM11: usize = 14;
pub(super) const F_CID11: usize = 15;
pub(super) const F_CID_NAME: usize = 16;
pub(super) const F_CID_NAME11: usize = 17;
pub(super) const F_CL_NUM: usize = 18;
pub(super) const F_CL_NUM11: usize = 19;
pub(super) const F_CL_NAME: usize = 20;
pub(super) const F_CL_NAME11: usize = 21;
pub(super) const F_PARKER: usize = 22;
pub(super) const F_FROM11: usize = 23;
/// `Event` and `ActionID`: the head, read in the same pass.
pub(crate) const F_EVENT: usize = 24;
pub(crate) const F_ACTION_ID: usize = 25;
pub(super) const F_R_CHANNEL: usize = 26;
pub(super) const F_R_CID_NUM: usize = 27;
pub(super) const F_R_CID_NAME: usize = 28;
pub(super) const F_R_UID: usize = 29;
pub(super) const FIELDS: usize = 30;

/// The name of each field, lower case (the parkee block, the head, the retriever
/// block).
const NAMES: [(&[u8], usize); FIELDS] = [
    (b"from", F_FROM11),
    (b"exten", F_EXTEN),
    (b"timeout", F_TIMEOUT11),
    (b"channel", F_CHANNEL11),
    (b"duration", F_DURATION11),
    (b"uniqueid", F_UID11),
    (b"linkedid", F_LINKED11),
    (b"callerid", F_CID11),
    (b"parkinglot", F_LOT),
    (b"calleridnum", F_CID_NUM11),
    (b"parkingspace", F_SPACE),
    (b"calleridname", F_CID_NAME11),
    (b"parkeechannel", F_CHANNEL),
    (b"parkingtimeout", F_TIMEOUT),
    (b"parkeeuniqueid", F_UID),
    (b"parkeelinkedid", F_LINKED),
    (b"parkingduration", F_DURATION),
    (b"connectedlinenum", F_CL_NUM11),
    (b"parkerdialstring", F_PARKER),
    (b"parkeecalleridnum", F_CID_NUM),
    (b"connectedlinename", F_CL_NAME11),
    (b"parkeecalleridname", F_CID_NAME),
    (b"parkeeconnectedlinenum", F_CL_NUM),
    (b"parkeeconnectedlinename", F_CL_NAME),
    (b"event", F_EVENT),
    (b"actionid", F_ACTION_ID),
    (b"retrieverchannel", F_R_CHANNEL),
    (b"retrievercalleridnum", F_R_CID_NUM),
    (b"retrievercalleridname", F_R_CID_NAME),
    (b"retrieveruniqueid", F_R_UID),
];

/// Sets bit 5 of every byte: exactly the ASCII letters become lower-case letters, so
/// a folded key equals a (lower-case, letters-only) name only when the key is that
/// name in any case.
const FOLD: u64 = 0x2020_2020_2020_2020;

/// A key's first and last eight bytes as words (zero-padded when shorter), folded.
const fn words_const(key: &[u8]) -> (u64, u64) {
    let n = key.len();
    let (mut first, mut last) = (0u64, 0u64);
    let mut i = 0;
    while i < 8 {
        if i < n {
            first |= (key[i] as u64) << (8 * i);
        }
        if n >= 8 {
            last |= (key[n - 8 + i] as u64) << (8 * i);
        }
        i += 1;
    }
    (first | FOLD, if n >= 8 { last | FOLD } else { 0 })
}

/// [`words_const`] with two word loads (a key under 4 bytes copied into a zeroed word).
fn words(key: &[u8]) -> (u64, u64) {
    let n = key.len();
    let word = |b: &[u8]| b.try_into().map(u64::from_le_bytes).unwrap_or(0) | FOLD;
    if n >= 8 {
        (word(&key[..8]), word(&key[n - 8..]))
    } else if n >= 4 {
        // Two overlapping 4-byte loads (no copy into a zeroed word: `Event` is in
        // every message): the overlap holds the same bytes in both.
        let half = |b: &[u8]| b.try_into().map(u32::from_le_bytes).map_or(0, u64::from);
        (half(&key[..4]) | half(&key[n - 4..]) << (8 * (n - 4)) | FOLD, 0)
    } else {
        let mut w = [0u8; 8];
        w[..n].copy_from_slice(key);
        (u64::from_le_bytes(w) | FOLD, 0)
    }
}

/// A key's bytes 8 to 16 as a folded word (0 when it is 16 bytes or shorter): with
/// the first and last words it covers every byte of a name (names are at most 23
/// bytes).
const fn middle_const(key: &[u8]) -> u64 {
    let n = key.len();
    let mut w = 0u64;
    if n > 16 {
        let mut i = 0;
        while i < 8 {
            w |= (key[8 + i] as u64) << (8 * i);
            i += 1;
        }
        w |= FOLD;
    }
    w
}

/// The slot of a key with these words: the multiplier was chosen so the 30 names
/// fall in 30 different slots (a collision fails the build).
const fn slot(first: u64, last: u64) -> usize {
    ((first ^ last.rotate_left(29)).wrapping_mul(0x4f5f_8fe9_947e_d28b) >> (64 - SLOT_BITS)) as usize
}

const SLOT_BITS: u32 = 6;

/// A name in its slot: its folded words, its length and its field (`usize::MAX` for
/// an empty slot).
#[derive(Clone, Copy)]
struct Entry {
    first: u64,
    middle: u64,
    last: u64,
    len: usize,
    field: usize,
}

/// The perfect hash of the field names.
const TABLE: [Entry; 1 << SLOT_BITS] = {
    let empty = Entry { first: 0, middle: 0, last: 0, len: 0, field: usize::MAX };
    let mut t = [empty; 1 << SLOT_BITS];
    let mut i = 0;
    while i < FIELDS {
        let (first, last) = words_const(NAMES[i].0);
        let s = slot(first, last);
        assert!(t[s].field == usize::MAX, "two field names share a slot: choose another multiplier");
        let (name, field) = NAMES[i];
        assert!(name.len() <= 24, "three words cover a name of at most 24 bytes");
        t[s] = Entry { first, middle: middle_const(name), last, len: name.len(), field };
        i += 1;
    }
    t
};

/// Which field a header names (ASCII case-insensitive), for the one-pass parse: two
/// word loads, one slot, and word comparisons (a third word, bytes 8 to 16, for keys
/// longer than 16).
pub(super) fn field_index(key: &[u8]) -> Option<usize> {
    let n = key.len();
    if !(4..=23).contains(&n) {
        return None;
    }
    let (first, last) = words(key);
    let e = TABLE[slot(first, last)];
    if e.len != n || e.first != first || e.last != last {
        return None;
    }
    let middle = match key.get(8..16) {
        Some(m) if n > 16 => m.try_into().map(u64::from_le_bytes).unwrap_or(0) | FOLD,
        _ => 0,
    };
    (middle == e.middle).then_some(e.field)
}

/// True when `key` is `lower` (a lower-case, letters-only name of 8 to 24 bytes) in
/// any case: the key's words folded, compared with the name's.
pub(crate) fn eq_letters(key: &[u8], lower: &[u8]) -> bool {
    let n = key.len();
    if n != lower.len() || !(8..=24).contains(&n) {
        return false;
    }
    let word =
        |b: &[u8], at: usize| b.get(at..at + 8).and_then(|w| w.try_into().ok()).map(u64::from_le_bytes);
    let folded = |at: usize| word(key, at).map(|w| w | FOLD) == word(lower, at);
    folded(0) && folded(n - 8) && (n <= 16 || folded(8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_near_a_field_name_in_its_slot_is_not_that_field() {
        let oracle = |k: &[u8]| NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|&(_, f)| f);
        let check = |k: &[u8]| assert_eq!(field_index(k), oracle(k), "{}", String::from_utf8_lossy(k));
        let letters = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut slot_mates = 0;
        for (name, _) in NAMES {
            let n = name.len();
            // Same first and last words, another length (the middle left out).
            if n > 16 {
                let short = [&name[..8], &name[n - 8..]].concat();
                check(&short);
                // One byte of the middle changed.
                let mut mid = name.to_vec();
                mid[8] = b'#';
                check(&mid);
            }
            // Same length, one word changed, in the same slot as the name.
            let (first, last) = words(name);
            let home = slot(first, last);
            for at in [0, 1, n - 2, n - 1] {
                let found =
                    letters.iter().flat_map(|&a| letters.iter().map(move |&b| (a, b))).find_map(|(a, b)| {
                        let mut k = name.to_vec();
                        k[at] = a;
                        k[if at < 2 { 1 - at } else { 2 * n - 3 - at }] = b;
                        let (f, l) = words(&k);
                        (oracle(&k).is_none() && slot(f, l) == home).then_some(k)
                    });
                if let Some(k) = found {
                    check(&k);
                    slot_mates += 1;
                }
            }
        }
        assert_eq!(slot_mates, 4 * NAMES.len(), "a key in each name's slot for each changed end");
    }

    #[test]
    fn every_field_name_is_found_in_any_case_and_nothing_else_is() {
        for (name, field) in NAMES {
            let upper = name.to_ascii_uppercase();
            assert_eq!(field_index(name), Some(field));
            assert_eq!(field_index(&upper), Some(field));
        }
        for (name, _) in NAMES {
            assert_eq!(words(name), words_const(name));
        }
        // Every length, bytes of every value: the loads read what the const fn does.
        let bytes: Vec<u8> = (0..=255u8).rev().chain(0..=255).collect();
        for n in 0..=24 {
            for at in (0..bytes.len() - n).step_by(7) {
                let k = &bytes[at..at + n];
                assert_eq!(words(k), words_const(k), "{k:?}");
            }
        }
        assert_eq!(TABLE.iter().filter(|t| t.field != usize::MAX).count(), FIELDS, "every name has its slot");
        for other in [
            &b"ParkeeChannelState"[..],
            b"ParkeeChannelStateDesc",
            b"Privilege",
            b"Events",
            b"ParkeeExten",
            b"ParkingSpacX",
            b"Parkinglot\x00",
            b"P@rkinglot",
            b"ParkeeConnectedLin@Name",
            b"ParkeeConnectedXineName",
            b"ParkeeCallerIDNun",
        ] {
            assert_eq!(field_index(other), None, "{}", String::from_utf8_lossy(other));
        }
    }
}
