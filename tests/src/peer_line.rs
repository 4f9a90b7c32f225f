//! The lines the `netfault_peer` processes print on stdout and the network fault test parses: the sender's endpoint, the sender's progress, and the receiver's running check of the numbered stream (order, gaps, duplicates).
//!
//! One line per report, words separated by spaces, `key=value` fields:
//!
//! ```text
//! endpoint tcp://192.0.2.1:40123
//! sent done=0 queued=5120 taken=5120
//! recv done=0 complete=0 count=5000 first=0 last=4999 gaps=0 missing=0 backwards=0 bad=0
//! ```

use std::fmt;

/// One line of a peer's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// The sender's bound endpoint, printed first, once.
    Endpoint(String),
    /// The sender's progress.
    Sent(SendReport),
    /// The receiver's running check.
    Recv(RecvReport),
}

/// How far the sender got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendReport {
    /// The last report: the sender is about to exit.
    pub done: bool,
    /// Messages queued on the `Zmq` handle so far: 0, 1, ... `queued - 1`.
    pub queued: u64,
    /// Of those, how many libzmq took (the rest wait in the handle's queue).
    pub taken: u64,
}

/// What a receiver saw of the stream 0, 1, 2, ...: it expects every number
/// to be the previous one plus one, and counts the ways it was not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecvReport {
    /// The last report: the receiver is about to exit.
    pub done: bool,
    /// It saw the number it was told to wait for.
    pub complete: bool,
    /// Messages received.
    pub count: u64,
    /// The first number received.
    pub first: Option<u64>,
    /// The last number received.
    pub last: Option<u64>,
    /// Times a number was more than one above the previous one.
    pub gaps: u64,
    /// Numbers skipped over by those gaps.
    pub missing: u64,
    /// Numbers not above the previous one: duplicates or reordering.
    pub backwards: u64,
    /// Messages that were not one 8-byte frame.
    pub bad: u64,
}

impl RecvReport {
    /// Takes number `seq` into account.
    pub fn record(&mut self, seq: u64) {
        self.count += 1;
        match self.last {
            None => self.first = Some(seq),
            Some(last) if seq == last + 1 => {}
            Some(last) if seq > last => {
                self.gaps += 1;
                self.missing += seq - last - 1;
            }
            Some(_) => self.backwards += 1,
        }
        if self.last.is_none_or(|last| seq > last) {
            self.last = Some(seq);
        }
    }

    /// Received an unbroken, strictly increasing run (no gap, nothing
    /// backwards, nothing malformed).
    pub fn is_clean(&self) -> bool {
        self.gaps == 0 && self.backwards == 0 && self.bad == 0
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Line::Endpoint(endpoint) => write!(f, "endpoint {endpoint}"),
            Line::Sent(s) => write!(
                f,
                "sent done={} queued={} taken={}",
                u8::from(s.done),
                s.queued,
                s.taken
            ),
            Line::Recv(r) => {
                let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
                write!(
                    f,
                    "recv done={} complete={} count={} first={} last={} gaps={} missing={} backwards={} bad={}",
                    u8::from(r.done),
                    u8::from(r.complete),
                    r.count,
                    opt(r.first),
                    opt(r.last),
                    r.gaps,
                    r.missing,
                    r.backwards,
                    r.bad
                )
            }
        }
    }
}

impl Line {
    /// Parses a line printed by [`Line`]'s `Display`; `None` for anything
    /// else.
    pub fn parse(line: &str) -> Option<Line> {
        let mut words = line.split_whitespace();
        let kind = words.next()?;
        if kind == "endpoint" {
            return Some(Line::Endpoint(words.next()?.to_owned()));
        }
        let fields: Vec<(&str, &str)> = words.filter_map(|w| w.split_once('=')).collect();
        let get = |key: &str| fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let num = |key: &str| get(key)?.parse::<u64>().ok();
        let flag = |key: &str| match get(key)? {
            "0" => Some(false),
            "1" => Some(true),
            _ => None,
        };
        let opt = |key: &str| match get(key)? {
            "-" => Some(None),
            v => v.parse::<u64>().ok().map(Some),
        };
        match kind {
            "sent" => Some(Line::Sent(SendReport {
                done: flag("done")?,
                queued: num("queued")?,
                taken: num("taken")?,
            })),
            "recv" => Some(Line::Recv(RecvReport {
                done: flag("done")?,
                complete: flag("complete")?,
                count: num("count")?,
                first: opt("first")?,
                last: opt("last")?,
                gaps: num("gaps")?,
                missing: num("missing")?,
                backwards: num("backwards")?,
                bad: num("bad")?,
            })),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_counts_gaps_and_backwards() {
        let mut r = RecvReport::default();
        for seq in [5, 6, 7, 10, 9, 10, 11] {
            r.record(seq);
        }
        assert_eq!(r.count, 7);
        assert_eq!((r.first, r.last), (Some(5), Some(11)));
        assert_eq!((r.gaps, r.missing, r.backwards), (1, 2, 2));
        assert!(!r.is_clean());
    }

    #[test]
    fn lines_round_trip() {
        let mut r = RecvReport::default();
        r.record(3);
        r.record(4);
        for line in [
            Line::Endpoint("tcp://192.0.2.1:4000".into()),
            Line::Sent(SendReport {
                done: true,
                queued: 10,
                taken: 8,
            }),
            Line::Recv(r),
            Line::Recv(RecvReport::default()),
        ] {
            assert_eq!(Line::parse(&line.to_string()), Some(line));
        }
        assert_eq!(Line::parse("recv done=2"), None);
        assert_eq!(Line::parse("hello"), None);
    }
}
