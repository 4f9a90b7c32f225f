//! Handle churn: every tick creates handles (and their sockets) and closes
//! them again: a `Zmq` whose queued writes are cancelled by its close, a
//! started `ZmqPoll` closed at once, a one-shot `Timer` that closes itself,
//! and now and then a PUSH→PULL pair over a fresh tcp port that closes once
//! its one message arrived. Every close goes through `close_with`, and every
//! handle opened must see its close callback.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use uzmq::{Error, Events, Loop, Timer, Zmq, ZmqPoll, zmq};

use super::part::Part;
use super::tally::Tally;
use super::wire::{self, SetupResult, Transport};

/// Writes queued on each handle whose close cancels them.
const CANCELLED: u64 = 3;
/// A tcp pair starts every this many ticks (each costs a port and a
/// connection, and loopback keeps closed connections in TIME_WAIT).
const PAIR_EVERY: u64 = 10;
/// A pair whose message has not arrived after this long is a failure.
const PAIR_LIMIT: Duration = Duration::from_secs(10);

/// A churned PUSH→PULL pair waiting for its message.
struct Pair {
    id: u64,
    born: Instant,
    pull: Zmq,
    push: Zmq,
}

/// Counters shared with the callbacks.
#[derive(Default)]
struct Counts {
    opened: Cell<u64>,
    closed: Cell<u64>,
    timers_pending: Cell<u64>,
}

/// The churn and what it still has in flight.
pub struct Churn {
    lp: Loop,
    ctx: zmq::Context,
    counts: Rc<Counts>,
    pairs: Rc<RefCell<Vec<Pair>>>,
    ticks: Cell<u64>,
    tally: Rc<Tally>,
}

impl Churn {
    /// The churn on `lp`, its sockets from `ctx`.
    pub fn new(lp: &Loop, ctx: &zmq::Context, tally: &Rc<Tally>) -> Churn {
        Churn {
            lp: lp.clone(),
            ctx: ctx.clone(),
            counts: Rc::default(),
            pairs: Rc::default(),
            ticks: Cell::new(0),
            tally: tally.clone(),
        }
    }

    fn opened(&self, n: u64) {
        self.counts.opened.set(self.counts.opened.get() + n);
    }

    /// A PUSH that is never connected takes nothing from its handle, so
    /// every queued write is still queued when the handle closes: each must
    /// get `Err(Closed)`, in order, before the close callback.
    fn cancelled_writes(&self) -> SetupResult<()> {
        let push = Zmq::new(&self.lp, wire::socket(&self.ctx, zmq::PUSH)?)?;
        self.opened(1);
        let done = Rc::new(Cell::new(0u64));
        for i in 0..CANCELLED {
            let (d, t) = (done.clone(), self.tally.clone());
            push.write_with([wire::frame(i)], move |_, result| {
                if !matches!(result, Err(Error::Closed)) || d.get() != i {
                    t.fail(format!(
                        "churn: cancelled write {i} ended {result:?} after {} callbacks",
                        d.get()
                    ));
                }
                d.set(d.get() + 1);
            })?;
        }
        let (c, t) = (self.counts.clone(), self.tally.clone());
        push.close_with(move |_| {
            if done.get() != CANCELLED {
                t.fail(format!(
                    "churn: close callback after {} of {CANCELLED} write callbacks",
                    done.get()
                ));
            }
            closed(&c, &t);
        });
        Ok(())
    }

    /// A poll handle started and closed at once: its callback must never run.
    fn poll(&self) -> SetupResult<()> {
        let sub = ZmqPoll::new(&self.lp, wire::socket(&self.ctx, zmq::SUB)?)?;
        self.opened(1);
        let t = self.tally.clone();
        sub.start(Events::READABLE, move |_, _, _| {
            t.fail("churn: a poll callback ran after its close");
        })?;
        let (c, t) = (self.counts.clone(), self.tally.clone());
        sub.close_with(move |_| closed(&c, &t));
        Ok(())
    }

    /// A one-shot timer that fires once and closes itself.
    fn timer(&self) -> SetupResult<()> {
        let timer = Timer::new(&self.lp)?;
        self.opened(1);
        let (c, t) = (self.counts.clone(), self.tally.clone());
        let fired = Cell::new(false);
        timer.start(Duration::from_millis(1), Duration::ZERO, move |timer| {
            if fired.replace(true) {
                t.fail("churn: a one-shot timer fired twice");
                return;
            }
            let (c, t) = (c.clone(), t.clone());
            timer.close_with(move |_| {
                c.timers_pending.set(c.timers_pending.get() - 1);
                closed(&c, &t);
            });
        })?;
        self.counts
            .timers_pending
            .set(self.counts.timers_pending.get() + 1);
        Ok(())
    }

    /// A PULL on a fresh tcp port and a PUSH connected to it, closed both
    /// once the PULL got the pair's one message.
    fn pair(&self) -> SetupResult<()> {
        let id = self.ticks.get();
        let pull = wire::socket(&self.ctx, zmq::PULL)?;
        let endpoint = wire::bind(&pull, Transport::Tcp, "churn")?;
        let push = wire::socket(&self.ctx, zmq::PUSH)?;
        push.connect(&endpoint)?;
        let (pull, push) = (Zmq::new(&self.lp, pull)?, Zmq::new(&self.lp, push)?);
        self.opened(2);
        let (p, c, t) = (self.pairs.clone(), self.counts.clone(), self.tally.clone());
        pull.start_read(move |_, msg| {
            match msg {
                Ok(parts) => {
                    t.message();
                    if wire::seq_of(&parts[0]) != Some(id) {
                        t.fail(format!("churn: pair {id} got a stranger's message"));
                    }
                }
                Err(err) => t.fail(format!("churn: pair {id}: read failed: {err}")),
            }
            let found = {
                let mut pairs = p.borrow_mut();
                let at = pairs.iter().position(|pair| pair.id == id);
                at.map(|at| pairs.swap_remove(at))
            };
            match found {
                Some(pair) => close_pair(&pair, &c, &t),
                None => t.fail(format!("churn: pair {id} read after its close")),
            }
        })?;
        push.write(wire::frame(id))?;
        self.pairs.borrow_mut().push(Pair {
            id,
            born: Instant::now(),
            pull,
            push,
        });
        Ok(())
    }

    /// Fails and closes the pairs whose message is overdue.
    fn reap_overdue(&self) {
        let overdue: Vec<Pair> = {
            let mut pairs = self.pairs.borrow_mut();
            let (late, young) = pairs
                .drain(..)
                .partition(|pair| pair.born.elapsed() > PAIR_LIMIT);
            *pairs = young;
            late
        };
        for pair in overdue {
            self.tally.fail(format!(
                "churn: pair {}: no message after {PAIR_LIMIT:?}",
                pair.id
            ));
            close_pair(&pair, &self.counts, &self.tally);
        }
    }
}

/// A churned handle's close completed.
fn closed(counts: &Counts, tally: &Tally) {
    counts.closed.set(counts.closed.get() + 1);
    tally.churned();
}

fn close_pair(pair: &Pair, counts: &Rc<Counts>, tally: &Rc<Tally>) {
    for h in [&pair.pull, &pair.push] {
        let (c, t) = (counts.clone(), tally.clone());
        h.close_with(move |_| closed(&c, &t));
    }
}

impl Part for Churn {
    fn name(&self) -> String {
        "handle churn".into()
    }

    fn tick(&self) {
        let tick = self.ticks.get();
        self.ticks.set(tick + 1);
        self.reap_overdue();
        let mut steps = vec![self.cancelled_writes(), self.poll(), self.timer()];
        if tick % PAIR_EVERY == 0 {
            steps.push(self.pair());
        }
        for err in steps.into_iter().filter_map(Result::err) {
            self.tally.fail(format!("churn: set-up failed: {err}"));
        }
    }

    fn idle(&self) -> bool {
        self.pairs.borrow().is_empty() && self.counts.timers_pending.get() == 0
    }

    fn close(&self) {
        let pairs: Vec<Pair> = self.pairs.borrow_mut().drain(..).collect();
        for pair in pairs {
            close_pair(&pair, &self.counts, &self.tally);
        }
    }

    fn check(&self) {
        let (opened, closed) = (self.counts.opened.get(), self.counts.closed.get());
        if opened != closed {
            self.tally.fail(format!(
                "churn: {opened} handles opened, {closed} close callbacks"
            ));
        }
    }
}
