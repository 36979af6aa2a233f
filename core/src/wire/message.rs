//! One AMI message as an ordered list of headers, owned, with case-insensitive lookup.

use std::borrow::Cow;
use std::fmt;

/// One AMI message: an ordered list of `Key: Value` headers.
///
/// Keys and values are bytes (Asterisk does not promise UTF-8); keys are compared
/// case-insensitively (ASCII), repeated keys are kept in order. All headers live in
/// one buffer, so a message costs two allocations whatever its size.
///
/// ```
/// use ami_parking::Message;
/// let m = Message::from_pairs([("Event", "ParkedCall"), ("Parkinglot", "vip")]);
/// assert_eq!(m.get_str("parkinglot").as_deref(), Some("vip"));
/// assert_eq!(m.event_name().as_deref(), Some("ParkedCall"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Message {
    buf: Vec<u8>,
    /// Each header's key and value lengths, in order: the headers lie back to back in
    /// `buf` (8 bytes a header, and a walk with one bounds check a slice).
    fields: Vec<(u32, u32)>,
}

/// The bytes of one entry of [`Message::fields`].
const FIELD_BYTES: usize = std::mem::size_of::<(u32, u32)>();

impl Message {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty message with room for `headers` headers of `bytes` bytes in all.
    pub fn with_capacity(headers: usize, bytes: usize) -> Self {
        Self { buf: Vec::with_capacity(bytes), fields: Vec::with_capacity(headers) }
    }

    /// Builds a message from `(key, value)` pairs, in order.
    pub fn from_pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let mut m = Self::new();
        for (k, v) in pairs {
            m.push(k.as_ref(), v.as_ref());
        }
        m
    }

    /// Appends one header. A key or value is at most 4 GiB (`u32::MAX` bytes; the
    /// codec's message limit is far below): a longer one would read back misaligned.
    pub fn push(&mut self, key: &[u8], value: &[u8]) {
        self.buf.extend_from_slice(key);
        self.buf.extend_from_slice(value);
        self.fields.push((key.len() as u32, value.len() as u32));
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when the message has no header.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The headers in wire order, as `(key, value)` byte slices.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + Clone + '_ {
        let mut rest: &[u8] = &self.buf;
        self.fields.iter().map(move |&(k, v)| {
            // Each push adds its key's and value's bytes and at most their lengths
            // (a length past u32 would be cut, never grown): the splits always fit.
            let (key, after) = rest.split_at(k as usize);
            let (value, after) = after.split_at(v as usize);
            rest = after;
            (key, value)
        })
    }

    /// The headers' bytes and each header's key and value lengths (the headers lie
    /// back to back in the bytes), for a reader that walks them in one loop.
    pub(crate) fn parts(&self) -> (&[u8], &[(u32, u32)]) {
        (&self.buf, &self.fields)
    }

    /// The first value of `key` (case-insensitive), as bytes.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.iter().find(|(k, _)| k.eq_ignore_ascii_case(key.as_bytes())).map(|(_, v)| v)
    }

    /// The first value of `key` (case-insensitive), as text; invalid UTF-8 is replaced.
    pub fn get_str(&self, key: &str) -> Option<Cow<'_, str>> {
        self.get(key).map(String::from_utf8_lossy)
    }

    /// Every value of `key` (case-insensitive), in order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(key.as_bytes())).map(|(_, v)| v)
    }

    /// True when `key` is present and its value equals `value`, both ASCII case-insensitive.
    pub fn is(&self, key: &str, value: &str) -> bool {
        self.get(key).is_some_and(|v| v.eq_ignore_ascii_case(value.as_bytes()))
    }

    /// The `Event` header, if this is an event.
    pub fn event_name(&self) -> Option<Cow<'_, str>> {
        self.get_str("Event")
    }

    /// The `ActionID` header.
    pub fn action_id(&self) -> Option<&[u8]> {
        self.get("ActionID")
    }

    /// Heap bytes this message holds (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity() + self.fields.capacity() * FIELD_BYTES
    }
}

/// Values of keys that carry secrets are never printed.
pub(crate) fn is_secret_key(key: &[u8]) -> bool {
    key.eq_ignore_ascii_case(b"Secret") || key.eq_ignore_ascii_case(b"Key")
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = f.debug_list();
        for (k, v) in self.iter() {
            let v = if is_secret_key(k) { Cow::Borrowed("<redacted>") } else { String::from_utf8_lossy(v) };
            l.entry(&format_args!("{}: {}", String::from_utf8_lossy(k), v));
        }
        l.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_says_whether_it_is_empty_its_event_and_its_heap_bytes() {
        let m = Message::with_capacity(3, 64);
        assert!(m.is_empty());
        assert_eq!(m.event_name(), None);
        let header = FIELD_BYTES;
        assert_eq!(header, 8, "a header's index is two u32 lengths");
        assert_eq!(m.heap_bytes(), m.buf.capacity() + 3 * header);
        assert!(m.buf.capacity() >= 64 && m.fields.capacity() == 3, "room made for 3 headers and 64 bytes");
        let m = Message::from_pairs([("event", "ParkedCall")]);
        assert!(!m.is_empty());
        assert_eq!(m.event_name().as_deref(), Some("ParkedCall"));
        assert_eq!(m.heap_bytes(), m.buf.capacity() + m.fields.capacity() * header);
        assert!(m.heap_bytes() >= "eventParkedCall".len() + header);
    }

    #[test]
    fn repeated_headers_keep_order_and_lookup_is_case_insensitive() {
        let m = Message::from_pairs([("Output", "a"), ("uniqueid", "1"), ("Output", "b"), ("UniqueID", "2")]);
        assert_eq!(m.get_all("output").collect::<Vec<_>>(), vec![&b"a"[..], &b"b"[..]]);
        assert_eq!(m.get("UNIQUEID"), Some(&b"1"[..]));
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn empty_keys_and_values_and_many_headers_read_back_as_pushed() {
        let mut pairs: Vec<(String, String)> =
            vec![(String::new(), String::new()), ("k".into(), String::new())];
        pairs.push((String::new(), "v".into()));
        pairs.extend((0..300).map(|i| (format!("Key{i}"), "x".repeat(i % 7))));
        let m = Message::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let back: Vec<(&[u8], &[u8])> = m.iter().collect();
        let want: Vec<(&[u8], &[u8])> = pairs.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())).collect();
        assert_eq!(back, want);
        // A clone of a half-read iterator goes on from where it was.
        let mut it = m.iter().skip(2);
        let rest = it.clone().count();
        assert_eq!((it.next(), rest), (Some((&b""[..], &b"v"[..])), 301));
    }

    #[test]
    fn debug_redacts_secrets() {
        let m = Message::from_pairs([("Action", "Login"), ("Secret", "hunter2"), ("Key", "abc")]);
        let d = format!("{m:?}");
        assert!(!d.contains("hunter2") && !d.contains("abc"), "{d}");
    }
}
