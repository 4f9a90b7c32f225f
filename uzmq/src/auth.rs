//! `Authenticator`: ZAP (ZeroMQ RFC 27) answered from the loop, with
//! address rules, PLAIN users and CURVE keys per domain.

use ref_cast::{RefCastCustom, ref_cast_custom};
use std::net::IpAddr;

use uzmq_core::Result;
use uzmq_core::zap::{ZAP_ENDPOINT, ZapHandler};
use uzmq_uv::UvLoop;
use uzmq_zmq::ZmqSocket;

use crate::{CurveKeys, Loop};

/// Answers libzmq's authentication requests (ZAP) for every socket of a
/// context, from the loop, with no thread of its own.
///
/// It binds `inproc://zeromq.zap.01` on the context (a second one on the
/// same context is `Err(Zmq(EADDRINUSE))`) and is active until closed. At
/// first it refuses every PLAIN and CURVE client; tell it whom to let in:
///
/// - [`allow`](Self::allow) and [`deny`](Self::deny): address rules for
///   every mechanism. Once any address is allowed, only allowed addresses
///   pass; otherwise denied addresses are refused.
/// - [`set_plain`](Self::set_plain): PLAIN user names and passwords per
///   ZAP domain (`"*"`: every domain).
/// - [`set_curve`](Self::set_curve): CURVE client keys per domain,
///   [`CurveKeys::Any`] or an allow list.
/// - [`deny_all`](Self::deny_all): refuse everyone, whatever the rules,
///   without closing.
///
/// A client that passes gets status 200 and a user id: the user name
/// (PLAIN), the Z85 text of its public key (CURVE), empty (NULL); messages
/// from it carry it as the `User-Id` property
/// (`zmq::Message::gets("User-Id")`). A client that does not pass gets 400:
/// its connection carries no message, and the server's
/// [`Monitor`](crate::Monitor) sees `HandshakeFailedAuth` with value 400.
/// A malformed request gets 500. NULL-mechanism sockets ask only when they
/// have a ZAP domain (`set_zap_domain`); then only the address rules
/// apply. Rules changed while the loop runs apply to the next handshake.
///
/// # The authenticator is the only gate
///
/// With no ZAP handler bound, libzmq 4.3.4 lets CURVE clients (with no
/// user id), and NULL clients of a socket with a ZAP domain, in
/// unauthenticated; only PLAIN clients fail. So **closing an
/// `Authenticator` opens the CURVE servers of its context to any client
/// that knows the server key.** To shut everyone out, keep it open and
/// call [`deny_all(true)`](Self::deny_all). (`ZMQ_ZAP_ENFORCE_DOMAIN`, a
/// draft option, number 93, that [`set_int_option`](crate::set_int_option)
/// can set, makes libzmq refuse clients when no handler is bound, but only
/// on a socket that also has a ZAP domain; alone it does nothing.)
///
/// `close` gives the ZAP endpoint up at once, even while clones keep the
/// handle's socket alive; handshakes whose request was already sent are
/// never answered. libzmq unbinds asynchronously: a new `Authenticator`
/// created right after closing one may get `EADDRINUSE` for a short while.
///
/// ```
/// use uzmq::{zmq, Authenticator, CurveKeys, Loop, RunMode, Zmq};
///
/// let ctx = zmq::Context::new();
/// let lp = Loop::new()?;
/// let auth = Authenticator::new(&lp, &ctx)?;
/// let server_keys = zmq::CurveKeyPair::new()?;
/// let client_keys = zmq::CurveKeyPair::new()?;
/// auth.set_curve("*", CurveKeys::Allow(vec![client_keys.public_key]))?;
///
/// let server = ctx.socket(zmq::PULL)?;
/// server.set_curve_server(true)?;
/// server.set_curve_secretkey(&server_keys.secret_key)?;
/// server.bind("tcp://127.0.0.1:*")?;
/// let endpoint = server.get_last_endpoint()?.expect("utf-8 endpoint");
/// let client = ctx.socket(zmq::PUSH)?;
/// client.set_curve_serverkey(&server_keys.public_key)?;
/// client.set_curve_publickey(&client_keys.public_key)?;
/// client.set_curve_secretkey(&client_keys.secret_key)?;
/// client.connect(&endpoint)?;
/// client.send("hello", 0)?;
///
/// let reader = Zmq::new(&lp, server)?;
/// let expected = zmq::z85_encode(&client_keys.public_key).expect("z85");
/// reader.start_read(move |h, msg| {
///     let mut msg = msg.expect("a message");
///     assert_eq!(msg[0].gets("User-Id"), Some(expected.as_str()));
///     h.close();
///     auth.close(); // the loop can end (and the door is open again)
/// })?;
/// lp.run(RunMode::Default)?;
/// # Ok::<(), uzmq::Error>(())
/// ```
#[derive(Clone, Debug, RefCastCustom)]
#[repr(transparent)]
pub struct Authenticator(ZapHandler<UvLoop, ZmqSocket>);

impl Authenticator {
    /// The handle a core callback got, as this type: a view of the same
    /// memory, so no reference count is touched per callback.
    #[ref_cast_custom]
    fn wrap(h: &ZapHandler<UvLoop, ZmqSocket>) -> &Self;
}

impl Authenticator {
    /// Binds a ROUTER at `inproc://zeromq.zap.01` on `ctx` and answers from
    /// `lp`, refusing every PLAIN and CURVE client until told otherwise.
    /// `Err(Zmq(EADDRINUSE))` when `ctx` already has a ZAP handler.
    pub fn new(lp: &Loop, ctx: &zmq::Context) -> Result<Authenticator> {
        let router = ctx.socket(zmq::ROUTER)?;
        router.set_linger(0)?;
        router.bind(ZAP_ENDPOINT)?;
        Ok(Authenticator(ZapHandler::new(
            &lp.0,
            ZmqSocket::new(router)?,
        )?))
    }

    /// Lets `addr` in, for every mechanism; once any address is allowed,
    /// only allowed addresses pass.
    pub fn allow(&self, addr: IpAddr) -> Result<()> {
        self.0.allow(addr)
    }

    /// Refuses `addr`, for every mechanism (while no address is allowed).
    pub fn deny(&self, addr: IpAddr) -> Result<()> {
        self.0.deny(addr)
    }

    /// PLAIN: these user names and passwords pass in `domain` (`"*"`: every
    /// domain); replaces that domain's list.
    pub fn set_plain(
        &self,
        domain: &str,
        users: impl IntoIterator<Item = (String, String)>,
    ) -> Result<()> {
        self.0.set_plain(domain, users)
    }

    /// CURVE: [`CurveKeys::Any`] (any client that knows the server key) or
    /// [`CurveKeys::Allow`] (these client public keys) in `domain` (`"*"`:
    /// every domain); replaces that domain's keys.
    pub fn set_curve(&self, domain: &str, keys: CurveKeys) -> Result<()> {
        self.0.set_curve(domain, keys)
    }

    /// With `true`, every client of every mechanism is refused from the
    /// next handshake on, whatever the other rules say; `false` goes back
    /// to the rules. The way to keep a server closed: closing the
    /// authenticator instead would open its CURVE doors (see above).
    pub fn deny_all(&self, on: bool) -> Result<()> {
        self.0.deny_all(on)
    }

    /// The loop this handle runs on (`Err(Error::Closed)` once it is gone).
    pub fn event_loop(&self) -> Result<Loop> {
        self.0.event_loop().map(Loop)
    }

    /// Active until closed.
    pub fn is_active(&self) -> bool {
        self.0.is_active()
    }

    /// True once closing began.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    /// Stops answering. Beware: with no ZAP handler, libzmq lets CURVE
    /// clients in unauthenticated; use [`deny_all`](Self::deny_all) to keep
    /// everyone out.
    pub fn close(&self) {
        self.unbind();
        self.0.close()
    }

    /// As [`close`](Self::close); `cb` runs once, from the loop, after it
    /// closed.
    pub fn close_with(&self, cb: impl FnOnce(&Authenticator) + 'static) {
        self.unbind();
        self.0.close_with(move |h| cb(Authenticator::wrap(h)))
    }

    /// Gives the ZAP endpoint up at once, also while clones of the handle
    /// keep its socket alive: a bound handler that no longer answers would
    /// leave every handshake of the context hanging.
    fn unbind(&self) {
        if !self.0.is_closed() {
            // Fails only when the context is gone, and its endpoints with it.
            let _ = self.0.socket().unbind(ZAP_ENDPOINT);
        }
    }
}
