//! A poll-handle flow: a `ZmqPoll` PUSH that sends a round of numbered
//! messages from its WRITABLE callback and stops itself, and a `ZmqPoll`
//! PULL that receives them in its READABLE callback, checked in order.

use std::cell::RefCell;
use std::rc::Rc;

use uzmq::{Events, Loop, ZmqPoll, zmq};

use super::part::Part;
use super::tally::Tally;
use super::wire::{self, Rounds, SetupResult, Transport};

/// Messages per round.
const ROUND: u64 = 50;
/// At most this many sends or receives per callback, to stay fair.
const BATCH: usize = 64;

/// The PUSH and PULL poll handles and their round.
pub struct PollPipeline {
    name: String,
    push: ZmqPoll,
    pull: ZmqPoll,
    rounds: Rc<RefCell<Rounds>>,
    tally: Rc<Tally>,
}

impl PollPipeline {
    /// The flow over `transport`; the PULL is polled from the start, the
    /// PUSH only while a round has messages left to send.
    pub fn new(
        lp: &Loop,
        ctx: &zmq::Context,
        tally: &Rc<Tally>,
        transport: Transport,
    ) -> SetupResult<PollPipeline> {
        let name = format!("poll push/pull {}", transport.name());
        let pull = wire::socket(ctx, zmq::PULL)?;
        let endpoint = wire::bind(&pull, transport, "poll")?;
        let push = wire::socket(ctx, zmq::PUSH)?;
        push.connect(&endpoint)?;
        let (pull, push) = (ZmqPoll::new(lp, pull)?, ZmqPoll::new(lp, push)?);
        let rounds = Rc::new(RefCell::new(Rounds::default()));
        let (r, t, n) = (rounds.clone(), tally.clone(), name.clone());
        let mut msg = zmq::Message::new();
        pull.start(Events::READABLE, move |h, _events, err| {
            if let Some(err) = err {
                return t.fail(format!("{n}: PULL poll failed: {err}"));
            }
            for _ in 0..BATCH {
                match h.socket().recv(&mut msg, zmq::DONTWAIT) {
                    Ok(()) => r.borrow_mut().received(&msg, &t, &n),
                    Err(zmq::Error::EAGAIN) => return,
                    Err(err) => return t.fail(format!("{n}: recv failed: {err}")),
                }
            }
        })?;
        Ok(PollPipeline {
            name,
            push,
            pull,
            rounds,
            tally: tally.clone(),
        })
    }
}

impl Part for PollPipeline {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn tick(&self) {
        if self.rounds.borrow_mut().begin(ROUND).is_empty() {
            return;
        }
        let (r, t, n) = (self.rounds.clone(), self.tally.clone(), self.name.clone());
        let started = self.push.start(Events::WRITABLE, move |h, _events, err| {
            if let Some(err) = err {
                return t.fail(format!("{n}: PUSH poll failed: {err}"));
            }
            for _ in 0..BATCH {
                let Some(seq) = r.borrow().to_send() else {
                    // The round is out: no more callbacks until the next.
                    if let Err(err) = h.stop() {
                        t.fail(format!("{n}: stop refused: {err}"));
                    }
                    return;
                };
                match h.socket().send(wire::frame(seq), zmq::DONTWAIT) {
                    Ok(()) => r.borrow_mut().sent(seq),
                    Err(zmq::Error::EAGAIN) => return,
                    Err(err) => return t.fail(format!("{n}: send failed: {err}")),
                }
            }
        });
        if let Err(err) = started {
            self.tally
                .fail(format!("{}: start refused: {err}", self.name));
        }
    }

    fn idle(&self) -> bool {
        self.rounds.borrow().idle()
    }

    fn close(&self) {
        self.push.close();
        self.pull.close();
    }
}
