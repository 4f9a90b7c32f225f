//! Stream-handle flows: a `Zmq` PUSH→PULL pipeline and REQ→REP round trips
//! (served by a `Zmq` or, with recv/send in the callback, a `ZmqPoll`), over
//! tcp or inproc, each message checked in order.

use std::cell::RefCell;
use std::rc::Rc;

use uzmq::{Events, Loop, Zmq, ZmqPoll, zmq};

use super::part::Part;
use super::tally::Tally;
use super::wire::{self, Rounds, SetupResult, Transport};

/// Messages per pipeline round (one round per tick at most).
const PIPELINE_ROUND: u64 = 50;
/// Round trips per REQ/REP round.
const REQREP_ROUND: u64 = 10;
/// At most this many recv/send pairs per poll callback, to stay fair.
const POLL_BATCH: usize = 64;

/// A bound PULL `Zmq` reading what a connected PUSH `Zmq` writes.
pub struct Pipeline {
    name: String,
    push: Zmq,
    pull: Zmq,
    rounds: Rc<RefCell<Rounds>>,
    tally: Rc<Tally>,
}

impl Pipeline {
    /// The pipeline over `transport`, reading already.
    pub fn new(
        lp: &Loop,
        ctx: &zmq::Context,
        tally: &Rc<Tally>,
        transport: Transport,
    ) -> SetupResult<Pipeline> {
        let name = format!("stream push/pull {}", transport.name());
        let pull = wire::socket(ctx, zmq::PULL)?;
        let endpoint = wire::bind(&pull, transport, "pipeline")?;
        let push = wire::socket(ctx, zmq::PUSH)?;
        push.connect(&endpoint)?;
        let (pull, push) = (Zmq::new(lp, pull)?, Zmq::new(lp, push)?);
        let rounds = Rc::new(RefCell::new(Rounds::default()));
        let (r, t, n) = (rounds.clone(), tally.clone(), name.clone());
        pull.start_read(move |_, msg| match msg {
            Ok(parts) => r.borrow_mut().received(&parts[0], &t, &n),
            Err(err) => t.fail(format!("{n}: read failed: {err}")),
        })?;
        Ok(Pipeline {
            name,
            push,
            pull,
            rounds,
            tally: tally.clone(),
        })
    }
}

impl Part for Pipeline {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn tick(&self) {
        let seqs = self.rounds.borrow_mut().begin(PIPELINE_ROUND);
        for seq in seqs {
            if let Err(err) = self.push.write(wire::frame(seq)) {
                self.tally
                    .fail(format!("{}: write refused: {err}", self.name));
            }
            self.rounds.borrow_mut().sent(seq);
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

/// What answers the REQ of a [`ReqRep`].
enum Server {
    /// A REP `Zmq` that writes back what it reads.
    Stream(Zmq),
    /// A REP `ZmqPoll` that receives and sends back in its callback.
    Poll(ZmqPoll),
}

/// The REQ side's state: the request waiting for its reply, the next
/// number, and how many round trips remain in this round.
#[derive(Debug, Default)]
struct Client {
    waiting: Option<u64>,
    next: u64,
    left: u64,
    replies: u64,
}

/// A REQ `Zmq` sending numbered requests, one at a time, to an echoing REP.
pub struct ReqRep {
    name: String,
    req: Zmq,
    server: Server,
    client: Rc<RefCell<Client>>,
    tally: Rc<Tally>,
}

impl ReqRep {
    /// Round trips over `transport`, to a REP served by a `Zmq` or, with
    /// `poll`, by a `ZmqPoll`.
    pub fn new(
        lp: &Loop,
        ctx: &zmq::Context,
        tally: &Rc<Tally>,
        transport: Transport,
        poll: bool,
    ) -> SetupResult<ReqRep> {
        let kind = if poll { "poll" } else { "stream" };
        let name = format!("{kind} req/rep {}", transport.name());
        let rep = wire::socket(ctx, zmq::REP)?;
        let endpoint = wire::bind(&rep, transport, "reqrep")?;
        let req = wire::socket(ctx, zmq::REQ)?;
        req.connect(&endpoint)?;
        let server = if poll {
            Server::Poll(poll_server(lp, rep, tally, &name)?)
        } else {
            Server::Stream(stream_server(lp, rep, tally, &name)?)
        };
        let req = Zmq::new(lp, req)?;
        let client = Rc::new(RefCell::new(Client::default()));
        let (c, t, n) = (client.clone(), tally.clone(), name.clone());
        req.start_read(move |h, msg| {
            let parts = match msg {
                Ok(parts) => parts,
                Err(err) => return t.fail(format!("{n}: read failed: {err}")),
            };
            t.message();
            let mut c = c.borrow_mut();
            let got = wire::seq_of(&parts[0]);
            if got.is_none() || got != c.waiting {
                t.fail(format!("{n}: reply {got:?} to request {:?}", c.waiting));
            }
            c.waiting = None;
            c.replies += 1;
            if c.left > 0 {
                send_request(h, &mut c, &t, &n);
            }
        })?;
        Ok(ReqRep {
            name,
            req,
            server,
            client,
            tally: tally.clone(),
        })
    }
}

/// Writes the client's next request.
fn send_request(req: &Zmq, client: &mut Client, tally: &Tally, name: &str) {
    let seq = client.next;
    client.next += 1;
    client.left -= 1;
    client.waiting = Some(seq);
    if let Err(err) = req.write(wire::frame(seq)) {
        tally.fail(format!("{name}: request refused: {err}"));
        client.waiting = None;
        client.left = 0;
    }
}

fn stream_server(lp: &Loop, rep: zmq::Socket, tally: &Rc<Tally>, name: &str) -> SetupResult<Zmq> {
    let rep = Zmq::new(lp, rep)?;
    let (t, n) = (tally.clone(), name.to_string());
    rep.start_read(move |h, msg| match msg {
        Ok(parts) => {
            t.message();
            if let Err(err) = h.write_multipart(parts) {
                t.fail(format!("{n}: reply refused: {err}"));
            }
        }
        Err(err) => t.fail(format!("{n}: server read failed: {err}")),
    })?;
    Ok(rep)
}

fn poll_server(lp: &Loop, rep: zmq::Socket, tally: &Rc<Tally>, name: &str) -> SetupResult<ZmqPoll> {
    let rep = ZmqPoll::new(lp, rep)?;
    let (t, n) = (tally.clone(), name.to_string());
    let mut msg = zmq::Message::new();
    rep.start(Events::READABLE, move |h, _events, err| {
        if let Some(err) = err {
            return t.fail(format!("{n}: server poll failed: {err}"));
        }
        for _ in 0..POLL_BATCH {
            match h.socket().recv(&mut msg, zmq::DONTWAIT) {
                Ok(()) => {
                    t.message();
                    // A REP that just received can always send its reply.
                    if let Err(err) = h.socket().send(&msg[..], zmq::DONTWAIT) {
                        t.fail(format!("{n}: server send failed: {err}"));
                    }
                }
                Err(zmq::Error::EAGAIN) => return,
                Err(err) => return t.fail(format!("{n}: server recv failed: {err}")),
            }
        }
    })?;
    Ok(rep)
}

impl Part for ReqRep {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn tick(&self) {
        let mut c = self.client.borrow_mut();
        if c.waiting.is_none() && c.left == 0 {
            c.left = REQREP_ROUND;
            send_request(&self.req, &mut c, &self.tally, &self.name);
        }
    }

    fn idle(&self) -> bool {
        self.client.borrow().waiting.is_none()
    }

    fn close(&self) {
        self.req.close();
        match &self.server {
            Server::Stream(h) => h.close(),
            Server::Poll(h) => h.close(),
        }
    }

    fn check(&self) {
        let c = self.client.borrow();
        if c.replies != c.next {
            self.tally.fail(format!(
                "{}: {} requests sent, {} replies",
                self.name, c.next, c.replies
            ));
        }
    }
}
