//! Property tests of the ZAP decision (pure, no loop): any sequence of
//! frames gets a well-formed reply or, without an envelope, none, never a
//! panic; malformed requests get 500; well-formed ones get the verdict a
//! model of the rules gives, for every combination of address lists,
//! domains, mechanisms and credentials; the CURVE user id is the key's
//! Z85 text as libzmq encodes it.

mod prop_support;

use std::net::{IpAddr, Ipv4Addr};

use prop_support::config;
use proptest::prelude::*;
use uzmq_core::zap::{CurveKeys, ZapRules, answer, z85_key};

const ADDRS: [IpAddr; 3] = [
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
    IpAddr::V4(Ipv4Addr::new(192, 168, 1, 3)),
];
const DOMAINS: [&str; 3] = ["", "a", "*"];
const USERS: [&str; 2] = ["ann", "bob"];
const PASSWORDS: [&str; 2] = ["pw", "other"];

fn key(n: u8) -> [u8; 32] {
    [n; 32]
}

/// The rules, as plain data a model can read.
#[derive(Clone, Debug)]
struct Model {
    deny_all: bool,
    allow: Vec<usize>,
    deny: Vec<usize>,
    /// Per domain index: the users (index, password index) of PLAIN.
    plain: Vec<Option<Vec<(usize, usize)>>>,
    /// Per domain index: `None` no CURVE rule, `Some(None)` Any,
    /// `Some(Some(keys))` an allow list.
    curve: Vec<Option<Option<Vec<u8>>>>,
}

fn model() -> impl Strategy<Value = Model> {
    let idx = prop::collection::vec(0..ADDRS.len(), 0..3);
    let plain = prop::collection::vec(
        prop::option::of(prop::collection::vec((0..2usize, 0..2usize), 0..3)),
        DOMAINS.len(),
    );
    let curve = prop::collection::vec(
        prop::option::of(prop::option::of(prop::collection::vec(0u8..3, 0..3))),
        DOMAINS.len(),
    );
    (any::<bool>(), idx.clone(), idx, plain, curve).prop_map(
        |(deny_all, allow, deny, plain, curve)| Model {
            deny_all,
            allow,
            deny,
            plain,
            curve,
        },
    )
}

fn rules(m: &Model) -> ZapRules {
    let mut r = ZapRules::new();
    r.set_deny_all(m.deny_all);
    m.allow.iter().for_each(|&i| r.allow(ADDRS[i]));
    m.deny.iter().for_each(|&i| r.deny(ADDRS[i]));
    for (d, users) in m.plain.iter().enumerate() {
        if let Some(users) = users {
            let list = users
                .iter()
                .map(|&(u, p)| (USERS[u].to_owned(), PASSWORDS[p].to_owned()));
            r.set_plain(DOMAINS[d], list);
        }
    }
    for (d, keys) in m.curve.iter().enumerate() {
        match keys {
            None => {}
            Some(None) => r.set_curve(DOMAINS[d], CurveKeys::Any),
            Some(Some(list)) => r.set_curve(
                DOMAINS[d],
                CurveKeys::Allow(list.iter().map(|&k| key(k)).collect()),
            ),
        }
    }
    r
}

/// A well-formed request: domain, address (an index, or a non-IP text),
/// and credentials.
#[derive(Clone, Debug)]
enum Creds {
    Null,
    Plain(usize, usize),
    Curve(u8),
}

fn request() -> impl Strategy<Value = (usize, Option<usize>, Creds)> {
    let creds = prop_oneof![
        Just(Creds::Null),
        (0..2usize, 0..2usize).prop_map(|(u, p)| Creds::Plain(u, p)),
        (0u8..3).prop_map(Creds::Curve),
    ];
    (0..DOMAINS.len(), prop::option::of(0..ADDRS.len()), creds)
}

/// The model's verdict: (status, user id).
fn expected(m: &Model, domain: usize, addr: Option<usize>, creds: &Creds) -> (u16, Vec<u8>) {
    let deny = (400, Vec::new());
    if m.deny_all {
        return deny;
    }
    let address_ok = if !m.allow.is_empty() {
        addr.is_some_and(|a| m.allow.contains(&a))
    } else {
        !addr.is_some_and(|a| m.deny.contains(&a))
    };
    if !address_ok {
        return deny;
    }
    // The request's own domain and the "*" entry (index 2) apply.
    let applies = |d: usize| d == domain || d == 2;
    match *creds {
        Creds::Null => (200, Vec::new()),
        Creds::Plain(u, p) => {
            let pass = m.plain.iter().enumerate().any(|(d, users)| {
                applies(d)
                    && users.as_ref().is_some_and(|users| {
                        // The last entry for a user name wins, as in a map.
                        users
                            .iter()
                            .rev()
                            .find(|&&(uu, _)| uu == u)
                            .is_some_and(|&(_, pp)| pp == p)
                    })
            });
            if pass {
                (200, USERS[u].as_bytes().to_vec())
            } else {
                deny
            }
        }
        Creds::Curve(k) => {
            let pass = m.curve.iter().enumerate().any(|(d, keys)| {
                applies(d)
                    && match keys {
                        None => false,
                        Some(None) => true,
                        Some(Some(list)) => list.contains(&k),
                    }
            });
            let z85 = zmq::z85_encode(&key(k)).expect("z85");
            if pass { (200, z85.into_bytes()) } else { deny }
        }
    }
}

fn frames_of(domain: usize, addr: Option<usize>, creds: &Creds) -> Vec<Vec<u8>> {
    let address = addr.map_or("ipc-peer".to_owned(), |a| ADDRS[a].to_string());
    let mut f: Vec<Vec<u8>> = vec![
        b"routing-id".to_vec(),
        Vec::new(),
        b"1.0".to_vec(),
        b"req-7".to_vec(),
        DOMAINS[domain].as_bytes().to_vec(),
        address.into_bytes(),
        b"server-id".to_vec(),
    ];
    match *creds {
        Creds::Null => f.push(b"NULL".to_vec()),
        Creds::Plain(u, p) => {
            f.push(b"PLAIN".to_vec());
            f.push(USERS[u].as_bytes().to_vec());
            f.push(PASSWORDS[p].as_bytes().to_vec());
        }
        Creds::Curve(k) => {
            f.push(b"CURVE".to_vec());
            f.push(key(k).to_vec());
        }
    }
    f
}

/// Checks the shape of a reply to `message`; returns (status, user id).
fn check_reply(message: &[Vec<u8>], reply: &[Vec<u8>]) -> (u16, Vec<u8>) {
    assert_eq!(reply.len(), 8, "{reply:?}");
    assert_eq!(reply[0], message[0], "addressed to the sender");
    assert!(reply[1].is_empty(), "delimiter");
    assert_eq!(reply[2], b"1.0");
    assert_eq!(
        reply[3],
        message.get(3).cloned().unwrap_or_default(),
        "request id"
    );
    let status: u16 = std::str::from_utf8(&reply[4])
        .expect("ascii")
        .parse()
        .expect("a number");
    assert!([200, 400, 500].contains(&status));
    assert!(!reply[5].is_empty(), "a status text");
    if status != 200 {
        assert!(reply[6].is_empty(), "no user id on a refusal");
    }
    assert!(reply[7].is_empty(), "no metadata");
    (status, reply[6].clone())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_frames_get_a_well_formed_reply_or_none(
        m in model(),
        message in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..12),
    ) {
        let r = rules(&m);
        match answer(&r, &message) {
            None => prop_assert!(message.len() < 2 || !message[1].is_empty()),
            Some(reply) => {
                prop_assert!(message.len() >= 2 && message[1].is_empty());
                check_reply(&message, &reply);
            }
        }
    }

    #[test]
    fn malformed_requests_get_500(
        m in model(),
        (domain, addr, creds) in request(),
        cut in 3usize..12,
        version in prop::collection::vec(any::<u8>(), 0..4),
        extra in prop::collection::vec(any::<u8>(), 0..4),
        how in 0..4,
    ) {
        let mut message = frames_of(domain, addr, &creds);
        match how {
            // Wrong version.
            0 => {
                prop_assume!(version != b"1.0");
                message[2] = version;
            }
            // Frames missing before the mechanism, or a credential missing.
            1 => {
                let keep = cut.min(message.len() - 1);
                prop_assume!(keep < 8 || !matches!(creds, Creds::Null));
                message.truncate(keep);
            }
            // A credential too many.
            2 => message.push(extra),
            // An unknown mechanism.
            _ => message[7] = [b"X".as_slice(), &extra].concat(),
        }
        let reply = answer(&rules(&m), &message).expect("an envelope: a reply");
        let (status, _) = check_reply(&message, &reply);
        prop_assert_eq!(status, 500);
    }

    #[test]
    fn the_decision_follows_the_rules(m in model(), (domain, addr, creds) in request()) {
        let message = frames_of(domain, addr, &creds);
        let reply = answer(&rules(&m), &message).expect("a reply");
        let got = check_reply(&message, &reply);
        prop_assert_eq!(got, expected(&m, domain, addr, &creds));
    }

    #[test]
    fn z85_keys_match_libzmq(key in prop::array::uniform32(any::<u8>())) {
        prop_assert_eq!(z85_key(&key), zmq::z85_encode(&key).expect("z85"));
    }
}
