//! `Authenticator` on the real backends: CURVE keys, PLAIN users and
//! address rules decide who talks to a server; `User-Id` on what passes;
//! rules changed while running; a hostile ZAP peer; the deny-all switch;
//! and what libzmq does with no ZAP handler (pinned, so that a change in
//! libzmq shows up here). Server, client and authenticator all run on one
//! loop, on the test's thread.

use std::net::IpAddr;

use tests::real::{Log, bind_tcp, limit, log, run_until, socket};
use uzmq::{
    Authenticator, CurveKeys, Error, EventKind, Loop, SocketEvent, Zmq, set_int_option, zmq,
};

const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// How a client's attempt ended, as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// Its message arrived, with this `User-Id` (if any).
    Served(Option<String>),
    /// The server's monitor saw this handshake failure (kind, value), and
    /// no message arrived.
    Refused(EventKind, u32),
}

/// A PULL server on the loop with a monitor, recording messages (with
/// their `User-Id`) and events.
struct Server {
    handle: Zmq,
    endpoint: String,
    got: Log<Option<String>>,
    events: Log<SocketEvent>,
}

fn server(lp: &Loop, ctx: &zmq::Context, setup: impl FnOnce(&zmq::Socket)) -> Server {
    server_on(lp, ctx, socket(ctx, zmq::PULL), setup)
}

/// As [`server`], on a PULL socket made by the caller.
fn server_on(
    lp: &Loop,
    ctx: &zmq::Context,
    sock: zmq::Socket,
    setup: impl FnOnce(&zmq::Socket),
) -> Server {
    let handle = Zmq::new(lp, sock).expect("server handle");
    let events = log();
    let ev = events.clone();
    handle
        .monitor(ctx, move |_, e| ev.borrow_mut().push(e.expect("an event")))
        .expect("monitor");
    setup(handle.socket());
    let endpoint = bind_tcp(handle.socket());
    let got = log();
    let g = got.clone();
    handle
        .start_read(move |_, msg| {
            let mut msg = msg.expect("a message");
            let user = msg[0].gets("User-Id").map(str::to_owned);
            g.borrow_mut().push(user);
        })
        .expect("read");
    Server {
        handle,
        endpoint,
        got,
        events,
    }
}

fn is_failure(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::HandshakeFailedAuth
            | EventKind::HandshakeFailedNoDetail
            | EventKind::HandshakeFailedProtocol
    )
}

/// Connects a PUSH client (on the loop) set up by `setup`, queues one
/// message, and runs the loop until the server got it or refused the
/// handshake; closes the client.
fn attempt(
    lp: &Loop,
    ctx: &zmq::Context,
    srv: &Server,
    setup: impl FnOnce(&zmq::Socket),
) -> Outcome {
    let got_before = srv.got.borrow().len();
    let events_before = srv.events.borrow().len();
    let client = Zmq::new(lp, socket(ctx, zmq::PUSH)).expect("client handle");
    setup(client.socket());
    client.socket().connect(&srv.endpoint).expect("connect");
    client.write("hello").expect("queue");
    let failure = || {
        srv.events.borrow()[events_before..]
            .iter()
            .find(|e| is_failure(e.kind))
            .map(|e| (e.kind, e.value))
    };
    run_until(lp, limit(), "the message or a handshake failure", || {
        srv.got.borrow().len() > got_before || failure().is_some()
    });
    client.close();
    let got = srv.got.borrow()[got_before..].to_vec();
    match (got.first(), failure()) {
        (Some(user), None) => Outcome::Served(user.clone()),
        (None, Some((kind, value))) => Outcome::Refused(kind, value),
        other => panic!("both a message and a failure: {other:?}"),
    }
}

fn curve_server(keys: &zmq::CurveKeyPair) -> impl FnOnce(&zmq::Socket) + '_ {
    move |s| {
        s.set_curve_server(true).expect("curve server");
        s.set_curve_secretkey(&keys.secret_key).expect("secret key");
    }
}

fn curve_client<'a>(
    server: &'a zmq::CurveKeyPair,
    me: &'a zmq::CurveKeyPair,
) -> impl FnOnce(&zmq::Socket) + 'a {
    move |s| {
        s.set_curve_serverkey(&server.public_key)
            .expect("server key");
        s.set_curve_publickey(&me.public_key).expect("public key");
        s.set_curve_secretkey(&me.secret_key).expect("secret key");
    }
}

fn plain_client<'a>(user: &'a str, password: &'a str) -> impl FnOnce(&zmq::Socket) + 'a {
    move |s| {
        s.set_plain_username(Some(user)).expect("user");
        s.set_plain_password(Some(password)).expect("password");
    }
}

fn keys() -> zmq::CurveKeyPair {
    zmq::CurveKeyPair::new().expect("curve keys")
}

fn z85(key: &[u8]) -> String {
    zmq::z85_encode(key).expect("z85")
}

const REFUSED: Outcome = Outcome::Refused(EventKind::HandshakeFailedAuth, 400);

#[test]
fn the_right_curve_key_is_served_with_its_user_id_and_a_wrong_one_refused() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let auth = Authenticator::new(&lp, &ctx).expect("authenticator");
    let (server_keys, good, bad) = (keys(), keys(), keys());
    auth.set_curve("*", CurveKeys::Allow(vec![good.public_key]))
        .expect("set_curve");
    let srv = server(&lp, &ctx, curve_server(&server_keys));
    let served = attempt(&lp, &ctx, &srv, curve_client(&server_keys, &good));
    assert_eq!(served, Outcome::Served(Some(z85(&good.public_key))));
    assert_eq!(
        attempt(&lp, &ctx, &srv, curve_client(&server_keys, &bad)),
        REFUSED
    );
    assert_eq!(srv.got.borrow().len(), 1, "the refused client sent nothing");
    srv.handle.close();
    auth.close();
}

#[test]
fn curve_keys_any_lets_every_client_with_the_server_key_in() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let auth = Authenticator::new(&lp, &ctx).expect("authenticator");
    let server_keys = keys();
    let srv = server(&lp, &ctx, curve_server(&server_keys));
    let client = keys();
    // At first every CURVE client is refused.
    assert_eq!(
        attempt(&lp, &ctx, &srv, curve_client(&server_keys, &client)),
        REFUSED
    );
    // Rules changed while running apply to the next handshake.
    auth.set_curve("*", CurveKeys::Any).expect("set_curve");
    for _ in 0..2 {
        let client = keys();
        let served = attempt(&lp, &ctx, &srv, curve_client(&server_keys, &client));
        assert_eq!(served, Outcome::Served(Some(z85(&client.public_key))));
    }
    // A domain other than the server's does not apply to it.
    auth.set_curve("*", CurveKeys::Allow(Vec::new()))
        .expect("set_curve");
    auth.set_curve("elsewhere", CurveKeys::Any)
        .expect("set_curve");
    assert_eq!(
        attempt(&lp, &ctx, &srv, curve_client(&server_keys, &client)),
        REFUSED
    );
    srv.handle.close();
    auth.close();
}

#[test]
fn plain_users_pass_with_the_right_password_only() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let auth = Authenticator::new(&lp, &ctx).expect("authenticator");
    auth.set_plain("users", [("ann".to_owned(), "secret".to_owned())])
        .expect("set_plain");
    let srv = server(&lp, &ctx, |s| {
        s.set_plain_server(true).expect("plain server");
        s.set_zap_domain("users").expect("zap domain");
    });
    let served = attempt(&lp, &ctx, &srv, plain_client("ann", "secret"));
    assert_eq!(served, Outcome::Served(Some("ann".to_owned())));
    assert_eq!(
        attempt(&lp, &ctx, &srv, plain_client("ann", "wrong")),
        REFUSED
    );
    assert_eq!(
        attempt(&lp, &ctx, &srv, plain_client("bob", "secret")),
        REFUSED
    );
    srv.handle.close();
    auth.close();
}

#[test]
fn address_rules_allow_and_deny_null_clients_of_a_zap_domain() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let auth = Authenticator::new(&lp, &ctx).expect("authenticator");
    let srv = server(&lp, &ctx, |s| s.set_zap_domain("net").expect("zap domain"));
    // NULL with a domain: only the address rules apply; the user id is empty.
    assert_eq!(
        attempt(&lp, &ctx, &srv, |_| {}),
        Outcome::Served(Some(String::new()))
    );
    auth.deny(LOCALHOST).expect("deny");
    assert_eq!(attempt(&lp, &ctx, &srv, |_| {}), REFUSED);
    // Once any address is allowed, only allowed ones pass.
    auth.allow("127.0.0.2".parse().expect("ip")).expect("allow");
    assert_eq!(attempt(&lp, &ctx, &srv, |_| {}), REFUSED);
    auth.allow(LOCALHOST).expect("allow");
    assert_eq!(
        attempt(&lp, &ctx, &srv, |_| {}),
        Outcome::Served(Some(String::new()))
    );
    srv.handle.close();
    auth.close();
}

#[test]
fn a_stream_of_refused_clients_does_not_make_the_loop_spin() {
    const CLIENTS: usize = 50;
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let auth = Authenticator::new(&lp, &ctx).expect("authenticator");
    let server_keys = keys();
    let srv = server(&lp, &ctx, curve_server(&server_keys));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let me = keys();
            let c = socket(&ctx, zmq::PUSH);
            curve_client(&server_keys, &me)(&c);
            c.connect(&srv.endpoint).expect("connect");
            c
        })
        .collect();
    let refused = || {
        srv.events
            .borrow()
            .iter()
            .filter(|e| e.kind == EventKind::HandshakeFailedAuth)
            .count()
    };
    let mut iterations = 0usize;
    run_until(&lp, limit(), "every client refused", || {
        iterations += 1;
        refused() >= CLIENTS
    });
    // Each iteration handles some request or event: a spinning loop would
    // run without bound while waiting for the handshakes.
    assert!(
        iterations < CLIENTS * 40,
        "{iterations} loop iterations for {CLIENTS} refused clients"
    );
    assert!(srv.got.borrow().is_empty());
    drop(clients);
    srv.handle.close();
    auth.close();
}

#[test]
fn a_hostile_zap_peer_gets_error_replies_and_nothing_breaks() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let auth = Authenticator::new(&lp, &ctx).expect("authenticator");
    let peer = Zmq::new(&lp, socket(&ctx, zmq::DEALER)).expect("peer");
    peer.socket()
        .connect("inproc://zeromq.zap.01")
        .expect("connect to the ZAP endpoint");
    let replies: Log<Vec<Vec<u8>>> = log();
    let r = replies.clone();
    peer.start_read(move |_, msg| {
        r.borrow_mut()
            .push(msg.expect("reply").iter().map(|f| f.to_vec()).collect())
    })
    .expect("read");
    let requests: Vec<Vec<&[u8]>> = vec![
        // Wrong version.
        vec![b"", b"2.0", b"1", b"", b"127.0.0.1", b"", b"NULL"],
        // Too few frames.
        vec![b"", b"1.0", b"2", b"domain"],
        // Junk mechanism.
        vec![b"", b"1.0", b"3", b"", b"127.0.0.1", b"", b"\xff\x00junk"],
        // CURVE with a key of the wrong size.
        vec![
            b"",
            b"1.0",
            b"4",
            b"",
            b"127.0.0.1",
            b"",
            b"CURVE",
            b"short",
        ],
        // No delimiter: cannot be answered, dropped.
        vec![b"1.0", b"5", b"", b"127.0.0.1", b"", b"NULL"],
        // PLAIN with one credential.
        vec![b"", b"1.0", b"6", b"", b"127.0.0.1", b"", b"PLAIN", b"ann"],
        // A good one: NULL passes (no address rules).
        vec![b"", b"1.0", b"7", b"", b"127.0.0.1", b"", b"NULL"],
    ];
    for req in &requests {
        peer.write_multipart(req.iter().map(|f| f.to_vec()))
            .expect("queue");
    }
    run_until(&lp, limit(), "the six answerable replies", || {
        replies.borrow().len() == 6
    });
    let got: Vec<(Vec<u8>, Vec<u8>)> = replies
        .borrow()
        .iter()
        .map(|r| {
            assert_eq!(r.len(), 7, "delimiter and six reply frames: {r:?}");
            assert!(r[0].is_empty());
            assert_eq!(r[1], b"1.0");
            (r[2].clone(), r[3].clone())
        })
        .collect();
    let want: Vec<(Vec<u8>, Vec<u8>)> = [
        ("1", "500"),
        ("2", "500"),
        ("3", "500"),
        ("4", "500"),
        ("6", "500"),
        ("7", "200"),
    ]
    .iter()
    .map(|(id, status)| (id.as_bytes().to_vec(), status.as_bytes().to_vec()))
    .collect();
    assert_eq!(got, want);
    assert!(auth.is_active() && !auth.is_closed());
    peer.close();
    auth.close();
}

#[test]
fn deny_all_keeps_every_client_out_until_switched_off() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let auth = Authenticator::new(&lp, &ctx).expect("authenticator");
    auth.set_curve("*", CurveKeys::Any).expect("set_curve");
    auth.set_plain("*", [("ann".to_owned(), "pw".to_owned())])
        .expect("set_plain");
    auth.allow(LOCALHOST).expect("allow");
    auth.deny_all(true).expect("deny_all");
    let server_keys = keys();
    let curve = server(&lp, &ctx, curve_server(&server_keys));
    let plain = server(&lp, &ctx, |s| {
        s.set_plain_server(true).expect("plain server")
    });
    let null = server(&lp, &ctx, |s| s.set_zap_domain("d").expect("zap domain"));
    let client = keys();
    assert_eq!(
        attempt(&lp, &ctx, &curve, curve_client(&server_keys, &client)),
        REFUSED
    );
    assert_eq!(
        attempt(&lp, &ctx, &plain, plain_client("ann", "pw")),
        REFUSED
    );
    assert_eq!(attempt(&lp, &ctx, &null, |_| {}), REFUSED);
    auth.deny_all(false).expect("deny_all");
    let served = attempt(&lp, &ctx, &curve, curve_client(&server_keys, &client));
    assert_eq!(served, Outcome::Served(Some(z85(&client.public_key))));
    for s in [curve, plain, null] {
        s.handle.close();
    }
    auth.close();
}

/// libzmq 4.3.4 without its draft API: with no ZAP handler bound, CURVE
/// clients and NULL clients of a socket with a ZAP domain get in
/// unauthenticated, and PLAIN clients fail. If libzmq changes this, this test
/// fails, and the documentation of `Authenticator` must change with it.
#[test]
fn without_a_zap_handler_libzmq_lets_curve_and_null_with_a_domain_in_and_fails_plain() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let server_keys = keys();
    let curve = server(&lp, &ctx, curve_server(&server_keys));
    let client = keys();
    let served = attempt(&lp, &ctx, &curve, curve_client(&server_keys, &client));
    assert_eq!(served, Outcome::Served(None), "in, and with no user id");

    let null = server(&lp, &ctx, |s| s.set_zap_domain("d").expect("zap domain"));
    assert_eq!(attempt(&lp, &ctx, &null, |_| {}), Outcome::Served(None));

    let plain = server(&lp, &ctx, |s| {
        s.set_plain_server(true).expect("plain server")
    });
    let outcome = attempt(&lp, &ctx, &plain, plain_client("ann", "pw"));
    assert!(
        matches!(outcome, Outcome::Refused(..)),
        "PLAIN with no ZAP handler: {outcome:?}"
    );
    for s in [curve, null, plain] {
        s.handle.close();
    }
}

/// `ZMQ_ZAP_ENFORCE_DOMAIN` (a draft option of libzmq 4.3, number 93) is
/// accepted by this libzmq. Alone, or a ZAP domain alone, changes nothing:
/// with no ZAP handler a CURVE client gets in. Both together make libzmq
/// refuse the client (no detail, EFAULT) when no handler is bound.
#[test]
fn zap_enforce_domain_with_a_domain_is_what_closes_a_curve_server_without_a_handler() {
    const ZMQ_ZAP_ENFORCE_DOMAIN: u32 = 93;
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let server_keys = keys();
    for (domain, enforce) in [(false, true), (true, false), (true, true)] {
        let mut sock = socket(&ctx, zmq::PULL);
        if enforce {
            set_int_option(&mut sock, ZMQ_ZAP_ENFORCE_DOMAIN, 1).expect("accepted by libzmq");
        }
        let srv = server_on(&lp, &ctx, sock, |s| {
            curve_server(&server_keys)(s);
            if domain {
                s.set_zap_domain("d").expect("zap domain");
            }
        });
        let me = keys();
        let outcome = attempt(&lp, &ctx, &srv, curve_client(&server_keys, &me));
        let want = if domain && enforce {
            // EFAULT: libzmq found no ZAP handler and refused.
            Outcome::Refused(EventKind::HandshakeFailedNoDetail, 14)
        } else {
            Outcome::Served(None)
        };
        assert_eq!(outcome, want, "domain {domain}, enforce {enforce}");
        srv.handle.close();
    }
}

#[test]
fn after_close_the_curve_door_is_open_again() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let auth = Authenticator::new(&lp, &ctx).expect("authenticator");
    let server_keys = keys();
    let srv = server(&lp, &ctx, curve_server(&server_keys));
    let client = keys();
    assert_eq!(
        attempt(&lp, &ctx, &srv, curve_client(&server_keys, &client)),
        REFUSED
    );
    auth.close();
    assert!(matches!(auth.deny_all(true), Err(Error::Closed)));
    assert!(matches!(
        auth.set_curve("*", CurveKeys::Any),
        Err(Error::Closed)
    ));
    // `close` unbound the ZAP endpoint (though `auth` is still held), so
    // the next handshake finds no handler.
    run_until(&lp, limit(), "the authenticator's close", || {
        !auth.is_active()
    });
    let served = attempt(&lp, &ctx, &srv, curve_client(&server_keys, &client));
    assert_eq!(
        served,
        Outcome::Served(None),
        "with no ZAP handler a CURVE client gets in unauthenticated"
    );
    srv.handle.close();
}

#[test]
fn a_second_authenticator_on_a_context_is_refused() {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let auth = Authenticator::new(&lp, &ctx).expect("authenticator");
    let second = Authenticator::new(&lp, &ctx);
    assert!(
        matches!(second, Err(Error::Zmq(zmq::Error::EADDRINUSE))),
        "{second:?}"
    );
    let other_ctx = zmq::Context::new();
    let other = Authenticator::new(&lp, &other_ctx).expect("another context has its own");
    other.close();
    auth.close();
}
