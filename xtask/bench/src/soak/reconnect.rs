//! Reconnects: a bound PULL `Zmq` that stays, and a connecting PUSH that
//! comes and goes. Every so often, between rounds, the PUSH side either
//! closes its handle and connects a new socket, or disconnects and connects
//! again on the same socket. Numbering runs across the incarnations, so a
//! message lost or doubled over a reconnect is caught.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use uzmq::{Loop, Zmq, zmq};

use super::part::Part;
use super::tally::Tally;
use super::wire::{self, Rounds, SetupResult, Transport};

/// Messages per round.
const ROUND: u64 = 20;
/// The PUSH side reconnects after this many ticks, at the next round.
const RECONNECT_EVERY: u64 = 50;

/// The stable PULL, the current PUSH, and the count of reconnects.
pub struct Reconnect {
    lp: Loop,
    ctx: zmq::Context,
    endpoint: String,
    pull: Zmq,
    push: RefCell<Zmq>,
    rounds: Rc<RefCell<Rounds>>,
    ticks: Cell<u64>,
    last_reconnect: Cell<u64>,
    reconnects: Cell<u64>,
    tally: Rc<Tally>,
}

impl Reconnect {
    /// The PULL bound on a tcp port, and a first PUSH connected to it.
    pub fn new(lp: &Loop, ctx: &zmq::Context, tally: &Rc<Tally>) -> SetupResult<Reconnect> {
        let name = "reconnecting push/pull tcp";
        let pull = wire::socket(ctx, zmq::PULL)?;
        let endpoint = wire::bind(&pull, Transport::Tcp, "reconnect")?;
        let pull = Zmq::new(lp, pull)?;
        let rounds = Rc::new(RefCell::new(Rounds::default()));
        let (r, t) = (rounds.clone(), tally.clone());
        pull.start_read(move |_, msg| match msg {
            Ok(parts) => r.borrow_mut().received(&parts[0], &t, name),
            Err(err) => t.fail(format!("{name}: read failed: {err}")),
        })?;
        let push = RefCell::new(connect(lp, ctx, &endpoint)?);
        Ok(Reconnect {
            lp: lp.clone(),
            ctx: ctx.clone(),
            endpoint,
            pull,
            push,
            rounds,
            ticks: Cell::new(0),
            last_reconnect: Cell::new(0),
            reconnects: Cell::new(0),
            tally: tally.clone(),
        })
    }

    /// Odd reconnects replace the handle and its socket; even ones
    /// disconnect and connect the same socket again.
    fn reconnect(&self) -> SetupResult<()> {
        let n = self.reconnects.get() + 1;
        self.reconnects.set(n);
        if n % 2 == 1 {
            let fresh = connect(&self.lp, &self.ctx, &self.endpoint)?;
            let old = self.push.replace(fresh);
            let t = self.tally.clone();
            old.close_with(move |_| t.churned());
        } else {
            let push = self.push.borrow();
            push.socket().disconnect(&self.endpoint)?;
            push.socket().connect(&self.endpoint)?;
        }
        Ok(())
    }
}

/// A PUSH `Zmq` connected to `endpoint`.
fn connect(lp: &Loop, ctx: &zmq::Context, endpoint: &str) -> SetupResult<Zmq> {
    let push = wire::socket(ctx, zmq::PUSH)?;
    push.connect(endpoint)?;
    Ok(Zmq::new(lp, push)?)
}

impl Part for Reconnect {
    fn name(&self) -> String {
        "reconnecting push/pull tcp".into()
    }

    fn tick(&self) {
        let tick = self.ticks.get();
        self.ticks.set(tick + 1);
        if !self.rounds.borrow().idle() {
            return;
        }
        if tick >= self.last_reconnect.get() + RECONNECT_EVERY {
            self.last_reconnect.set(tick);
            if let Err(err) = self.reconnect() {
                self.tally.fail(format!("reconnect failed: {err}"));
            }
        }
        let seqs = self.rounds.borrow_mut().begin(ROUND);
        let push = self.push.borrow();
        for seq in seqs {
            if let Err(err) = push.write(wire::frame(seq)) {
                self.tally
                    .fail(format!("{}: write refused: {err}", self.name()));
            }
            self.rounds.borrow_mut().sent(seq);
        }
    }

    fn idle(&self) -> bool {
        self.rounds.borrow().idle()
    }

    fn close(&self) {
        self.push.borrow().close();
        self.pull.close();
    }

    fn check(&self) {
        if self.ticks.get() > 2 * RECONNECT_EVERY && self.reconnects.get() == 0 {
            self.tally.fail("the PUSH side never reconnected");
        }
    }
}
