//! A CURVE server on the loop with an `Authenticator` (an allow list of
//! client keys) and a `Monitor` that prints handshake failures.
//!
//! Run it, then the client with the two lines it prints:
//!
//! ```sh
//! cargo run -p uzmq --example curve_server
//! # prints SERVER_KEY=... and ENDPOINT=... CLIENT_PUBLIC=... CLIENT_SECRET=...
//! cargo run -p uzmq --example curve_client -- ENDPOINT SERVER_KEY CLIENT_PUBLIC CLIENT_SECRET
//! ```
//!
//! The server generates its own key pair and one allowed client key pair
//! (Z85), answers each message with "ok", and exits after serving
//! `UZMQ_DEMO_MESSAGES` messages (default 3). A client with another key is
//! refused: the monitor prints `HandshakeFailedAuth 400`.

use uzmq::{Authenticator, CurveKeys, EventKind, Loop, RunMode, Zmq, zmq};

fn main() -> uzmq::Result<()> {
    let limit: usize = std::env::var("UZMQ_DEMO_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let ctx = zmq::Context::new();
    let lp = Loop::new()?;
    let server_keys = zmq::CurveKeyPair::new()?;
    let client_keys = zmq::CurveKeyPair::new()?;

    // The authenticator is the only gate: with none bound, libzmq would
    // let any CURVE client in.
    let auth = Authenticator::new(&lp, &ctx)?;
    auth.set_curve("*", CurveKeys::Allow(vec![client_keys.public_key]))?;

    let server = Zmq::new(&lp, ctx.socket(zmq::ROUTER)?)?;
    server.monitor(&ctx, |_, event| match event {
        Ok(ev) if ev.kind == EventKind::HandshakeFailedAuth => {
            println!(
                "refused a client on {}: HandshakeFailedAuth {}",
                ev.endpoint, ev.value
            )
        }
        Ok(ev) if ev.kind == EventKind::HandshakeSucceeded => {
            println!("a client passed on {}", ev.endpoint)
        }
        Ok(_) => {}
        Err(e) => eprintln!("monitor: {e}"),
    })?;
    let sock = server.socket();
    sock.set_linger(0)?;
    sock.set_curve_server(true)?;
    sock.set_curve_secretkey(&server_keys.secret_key)?;
    sock.bind("tcp://127.0.0.1:*")?;
    let endpoint = sock.get_last_endpoint()?.unwrap_or_default();
    let z85 = |k: &[u8]| zmq::z85_encode(k).expect("a 32-byte key encodes");
    println!("SERVER_KEY={}", z85(&server_keys.public_key));
    println!(
        "ENDPOINT={endpoint} CLIENT_PUBLIC={} CLIENT_SECRET={}",
        z85(&client_keys.public_key),
        z85(&client_keys.secret_key)
    );

    let mut served = 0;
    server.start_read(move |h, msg| {
        let Ok(mut msg) = msg else { return };
        let last = msg.len() - 1;
        let user = msg[last].gets("User-Id").unwrap_or("?").to_owned();
        println!(
            "message from {user}: {:?}",
            String::from_utf8_lossy(&msg[last])
        );
        let peer = msg.swap_remove(0);
        let _ = h.write_multipart([peer, zmq::Message::from("ok")]);
        served += 1;
        if served == limit {
            // Shut the door, then close: closing alone would open it.
            let _ = auth.deny_all(true);
            h.shutdown(|_, _| {});
            auth.close();
        }
    })?;
    lp.run(RunMode::Default)?;
    Ok(())
}
