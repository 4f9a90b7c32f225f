//! A CURVE client on the loop for `curve_server`: sends one message,
//! prints the reply, and exits by itself (also when refused, after a
//! bounded wait).
//!
//! ```sh
//! cargo run -p uzmq --example curve_server
//! cargo run -p uzmq --example curve_client -- ENDPOINT SERVER_KEY CLIENT_PUBLIC CLIENT_SECRET
//! ```
//!
//! The four values are what the server printed (`tcp://127.0.0.1:PORT`
//! and three Z85 keys). With a key pair of your own (any other) the
//! server refuses the client, which gives up after 5 s.

use std::time::Duration;

use uzmq::{Loop, RunMode, Timer, Zmq, zmq};

fn main() -> uzmq::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [endpoint, server_key, client_public, client_secret] = args.as_slice() else {
        eprintln!("usage: curve_client ENDPOINT SERVER_KEY CLIENT_PUBLIC CLIENT_SECRET");
        std::process::exit(2);
    };
    let decode = |s: &str| zmq::z85_decode(s).map_err(|_| uzmq::Error::Zmq(zmq::Error::EINVAL));
    let (secret, public) = (decode(client_secret)?, decode(client_public)?);

    let ctx = zmq::Context::new();
    let lp = Loop::new()?;
    let client = Zmq::new(&lp, ctx.socket(zmq::DEALER)?)?;
    let sock = client.socket();
    sock.set_linger(0)?;
    sock.set_curve_serverkey(&decode(server_key)?)?;
    sock.set_curve_publickey(&public)?;
    sock.set_curve_secretkey(&secret)?;
    sock.connect(endpoint)?;
    client.write("hello over CURVE")?;

    // A refused client hears nothing: give up after a while.
    let give_up = Timer::new(&lp)?;
    let c = client.clone();
    give_up.start(Duration::from_secs(5), Duration::ZERO, move |t| {
        eprintln!("no reply: refused, or no server at that endpoint");
        c.close();
        t.close();
    })?;
    client.start_read(move |h, msg| {
        if let Ok(msg) = msg {
            println!("reply: {}", String::from_utf8_lossy(&msg[0]));
        }
        h.close();
        give_up.close();
    })?;
    lp.run(RunMode::Default)?;
    Ok(())
}
