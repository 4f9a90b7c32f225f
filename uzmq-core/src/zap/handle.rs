//! The ZAP handler behind uzmq's `Authenticator`: a ROUTER bound at the
//! ZAP endpoint, read by a stream handle, each request answered from the
//! loop by the pure [`answer`](super::answer) under the current rules.
//!
//! Its state is the rules and whether it still answers; the stream handle
//! does the reading, writing and closing. Rules changed while the loop
//! runs apply to the next request, since each answer reads them afresh.
//! No user code runs here: the handler has no callback but the close
//! callback, so no borrow of the rules can meet user code.

use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;

use super::rules::{CurveKeys, ZapRules};
use crate::{Error, EventLoop, Reactor, Result, Socket, StreamHandle};

/// A ZAP handler on loop `R` over a ROUTER socket `S` bound at the ZAP
/// endpoint. Cloning makes another reference to the same handle.
pub struct ZapHandler<R: Reactor, S: Socket> {
    router: StreamHandle<R, S>,
    rules: Rc<RefCell<ZapRules>>,
}

impl<R: Reactor, S: Socket> Clone for ZapHandler<R, S> {
    fn clone(&self) -> Self {
        ZapHandler {
            router: self.router.clone(),
            rules: self.rules.clone(),
        }
    }
}

impl<R: Reactor, S: Socket> std::fmt::Debug for ZapHandler<R, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZapHandler")
            .field("rules", &*self.rules.borrow())
            .field("active", &self.is_active())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<R: Reactor, S: Socket> ZapHandler<R, S> {
    /// Answers the requests arriving at `router` (a ROUTER already bound at
    /// the ZAP endpoint) on `lp`, with rules that refuse every PLAIN and
    /// CURVE client until told otherwise.
    pub fn new(lp: &EventLoop<R>, router: S) -> Result<Self> {
        let router = StreamHandle::new(lp, router)?;
        let rules = Rc::new(RefCell::new(ZapRules::new()));
        let shared = rules.clone();
        router.start_read(move |h, msg| match msg {
            Ok(frames) => {
                let frames: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
                let reply = super::answer(&shared.borrow(), &frames);
                if let Some(reply) = reply {
                    // A refusal can only mean the handle failed for good,
                    // which the read callback hears about itself.
                    let _ = h.write_multipart(reply);
                }
            }
            // The context is gone (ETERM): nothing is left to answer, and
            // the handle must not keep the loop alive.
            Err(_) => h.close(),
        })?;
        Ok(ZapHandler { router, rules })
    }

    /// Changes the rules, unless the handler is closed.
    fn change(&self, f: impl FnOnce(&mut ZapRules)) -> Result<()> {
        if self.router.is_closed() {
            return Err(Error::Closed);
        }
        f(&mut self.rules.borrow_mut());
        Ok(())
    }

    /// Lets `addr` in (see [`ZapRules::allow`]).
    pub fn allow(&self, addr: IpAddr) -> Result<()> {
        self.change(|r| r.allow(addr))
    }

    /// Refuses `addr` (see [`ZapRules::deny`]).
    pub fn deny(&self, addr: IpAddr) -> Result<()> {
        self.change(|r| r.deny(addr))
    }

    /// PLAIN users of `domain` (see [`ZapRules::set_plain`]).
    pub fn set_plain(
        &self,
        domain: &str,
        users: impl IntoIterator<Item = (String, String)>,
    ) -> Result<()> {
        let users: Vec<_> = users.into_iter().collect();
        self.change(|r| r.set_plain(domain, users))
    }

    /// CURVE keys of `domain` (see [`ZapRules::set_curve`]).
    pub fn set_curve(&self, domain: &str, keys: CurveKeys) -> Result<()> {
        self.change(|r| r.set_curve(domain, keys))
    }

    /// The deny-all switch (see [`ZapRules::set_deny_all`]).
    pub fn deny_all(&self, on: bool) -> Result<()> {
        self.change(|r| r.set_deny_all(on))
    }

    /// A copy of the rules in force.
    pub fn rules(&self) -> ZapRules {
        self.rules.borrow().clone()
    }

    /// The loop, or `Err(Closed)` once it is gone.
    pub fn event_loop(&self) -> Result<EventLoop<R>> {
        self.router.event_loop()
    }

    /// Active until closed.
    pub fn is_active(&self) -> bool {
        self.router.is_active()
    }

    /// True once closing began.
    pub fn is_closed(&self) -> bool {
        self.router.is_closed()
    }

    /// The ROUTER socket, for its options.
    pub fn socket(&self) -> &S {
        self.router.socket()
    }

    /// Stops answering at once; the ROUTER is released when the close
    /// completes and the last clone is gone.
    pub fn close(&self) {
        self.router.close();
    }

    /// As [`close`](Self::close); `cb` runs once, from the loop.
    pub fn close_with(&self, cb: impl FnOnce(&Self) + 'static) {
        let rules = self.rules.clone();
        self.router.close_with(move |h| {
            cb(&ZapHandler {
                router: h.clone(),
                rules,
            })
        });
    }
}
