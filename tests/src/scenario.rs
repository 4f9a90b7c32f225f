//! One scenario, two backends: scenarios on a `Zmq` stream handle written
//! once against a small [`Backend`] trait and run on the mock backend
//! ([`crate::scenario_mock`]) and on libuv + libzmq
//! ([`crate::scenario_real`]), so the mock stays honest. Only what does
//! not depend on timing is checked: order, exactly-once, completions,
//! cancellation on close, REQ turn-taking.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use uzmq_core::{
    Error, EventLoop, Reactor, Result as CoreResult, RunMode, Socket, StreamHandle, TimerHandle,
};

/// A message as bytes, one `Vec` per frame.
pub type Msg = Vec<Vec<u8>>;

/// The other end of the handle's socket, driven without blocking.
pub trait Peer {
    /// Sends a whole message now; `false` (nothing sent) when the socket
    /// cannot take it yet.
    fn send(&self, msg: &[Vec<u8>]) -> bool;
    /// Receives a whole message, if one is there now.
    fn recv(&self) -> Option<Msg>;
}

/// Which sockets the handle and the peer use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// PAIR to PAIR.
    Pair,
    /// The handle PULLs from the peer's PUSH.
    Pull,
    /// The handle PUSHes to the peer's PULL.
    Push,
    /// The handle is a REQ, the peer a REP.
    Req,
    /// The handle is a REP, the peer a REQ.
    Rep,
}

/// A backend: loop, sockets, peer, and a bounded way to run the loop.
pub trait Backend {
    /// The loop backend.
    type R: Reactor;
    /// The handle's socket.
    type S: Socket;
    /// The peer's end.
    type P: Peer;

    /// For failure messages (with the seed, for the mock).
    fn name(&self) -> String;

    /// A fresh loop.
    fn new_loop(&mut self) -> EventLoop<Self::R>;

    /// A connected socket for the handle and its peer. High-water marks
    /// are small on both ends, so backpressure is part of every scenario.
    fn connect(&mut self, pattern: Pattern) -> (Self::S, Self::P);

    /// Runs `lp` until `done` holds (checked before every iteration; it
    /// may also act as the peer), or fails saying it waited for `what`.
    fn settle(
        &mut self,
        lp: &EventLoop<Self::R>,
        what: &str,
        done: &mut dyn FnMut() -> bool,
    ) -> Result<(), String>;
}

/// Message `seq` tagged `tag`, 1-3 frames.
pub fn msg(tag: char, seq: usize) -> Msg {
    let frames = 1 + seq % 3;
    (0..frames)
        .map(|i| format!("{tag}{seq}.{i}/{frames}").into_bytes())
        .collect()
}

fn bytes(m: &uzmq_core::Multipart) -> Msg {
    m.iter().map(|f| f.to_vec()).collect()
}

fn ensure(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what()) }
}

type Handle<B> = StreamHandle<<B as Backend>::R, <B as Backend>::S>;
type Log<T> = Rc<RefCell<Vec<T>>>;

/// A read callback that records every message (and any error).
fn recorder<B: Backend>(
    read: &Log<CoreResult<Msg>>,
) -> impl FnMut(&Handle<B>, CoreResult<uzmq_core::Multipart>) + 'static {
    let read = read.clone();
    move |_h: &Handle<B>, m| read.borrow_mut().push(m.map(|m| bytes(&m)))
}

fn oks(read: &Log<CoreResult<Msg>>) -> Result<Vec<Msg>, String> {
    read.borrow()
        .iter()
        .map(|r| r.clone().map_err(|e| format!("read callback got {e:?}")))
        .collect()
}

/// `n` multipart messages from the peer reach the read callback once
/// each, in order, frames intact (the peer sends as fast as backpressure
/// lets it).
pub fn in_order_delivery<B: Backend>(b: &mut B, pattern: Pattern, n: usize) -> Result<(), String> {
    let lp = b.new_loop();
    let (socket, peer) = b.connect(pattern);
    let h = Handle::<B>::new(&lp, socket).map_err(|e| format!("new: {e:?}"))?;
    let read: Log<CoreResult<Msg>> = Rc::default();
    h.start_read(recorder::<B>(&read))
        .map_err(|e| format!("start_read: {e:?}"))?;
    let sent: Vec<Msg> = (0..n).map(|i| msg('m', i)).collect();
    let mut next = 0;
    b.settle(&lp, "all messages read", &mut || {
        while next < n && peer.send(&sent[next]) {
            next += 1;
        }
        read.borrow().len() >= n
    })?;
    let got = oks(&read)?;
    ensure(got == sent, || {
        format!("{}: read {got:?}\n  != sent {sent:?}", b.name())
    })
}

/// `n` writes with completions, all queued before the loop runs, reach
/// the peer in order; each completion runs once, `Ok`, in write order.
pub fn queued_writes_complete_in_order<B: Backend>(
    b: &mut B,
    pattern: Pattern,
    n: usize,
) -> Result<(), String> {
    let lp = b.new_loop();
    let (socket, peer) = b.connect(pattern);
    let h = Handle::<B>::new(&lp, socket).map_err(|e| format!("new: {e:?}"))?;
    let done: Log<(usize, CoreResult<()>)> = Rc::default();
    let sent: Vec<Msg> = (0..n).map(|i| msg('w', i)).collect();
    for (i, m) in sent.iter().enumerate() {
        let done = done.clone();
        h.write_with(m.clone(), move |_h: &Handle<B>, r| {
            done.borrow_mut().push((i, r))
        })
        .map_err(|e| format!("write {i}: {e:?}"))?;
    }
    ensure(
        h.write_queue_size() == n && done.borrow().is_empty(),
        || {
            format!(
                "{}: write_queue_size {} and {} completions before the loop ran",
                b.name(),
                h.write_queue_size(),
                done.borrow().len()
            )
        },
    )?;
    let mut got = Vec::new();
    b.settle(&lp, "all writes received and completed", &mut || {
        while let Some(m) = peer.recv() {
            got.push(m);
        }
        got.len() >= n && done.borrow().len() >= n
    })?;
    ensure(got == sent, || {
        format!("{}: peer got {got:?}\n  != written {sent:?}", b.name())
    })?;
    let expected: Vec<(usize, CoreResult<()>)> = (0..n).map(|i| (i, Ok(()))).collect();
    ensure(*done.borrow() == expected, || {
        format!("{}: completions {:?}", b.name(), done.borrow())
    })?;
    ensure(h.write_queue_size() == 0, || {
        format!("{}: write_queue_size {}", b.name(), h.write_queue_size())
    })
}

/// The read callback stops reading after every `every`-th message and the
/// test starts it again a few loop turns later: no read callback while
/// stopped, and every message arrives once, in order.
pub fn stop_read_start_read_keeps_everything<B: Backend>(
    b: &mut B,
    pattern: Pattern,
    n: usize,
    every: usize,
) -> Result<(), String> {
    let lp = b.new_loop();
    let (socket, peer) = b.connect(pattern);
    let h = Handle::<B>::new(&lp, socket).map_err(|e| format!("new: {e:?}"))?;
    let read: Log<Msg> = Rc::default();
    let reading = Rc::new(Cell::new(true));
    let violations: Log<String> = Rc::default();
    let callback = {
        let (read, reading, violations) = (read.clone(), reading.clone(), violations.clone());
        move |h: &Handle<B>, m: CoreResult<uzmq_core::Multipart>| {
            if !reading.get() {
                violations
                    .borrow_mut()
                    .push("read callback while stopped".into());
            }
            match m {
                Ok(m) => read.borrow_mut().push(bytes(&m)),
                Err(e) => violations.borrow_mut().push(format!("read error {e:?}")),
            }
            if read.borrow().len().is_multiple_of(every) {
                if let Err(e) = h.stop_read() {
                    violations.borrow_mut().push(format!("stop_read: {e:?}"));
                }
                reading.set(false);
            }
        }
    };
    let callback = Rc::new(RefCell::new(callback));
    let start = |h: &Handle<B>| {
        let cb = callback.clone();
        h.start_read(move |h: &Handle<B>, m| (cb.borrow_mut())(h, m))
    };
    start(&h).map_err(|e| format!("start_read: {e:?}"))?;
    let sent: Vec<Msg> = (0..n).map(|i| msg('s', i)).collect();
    let (mut next, mut stopped_turns) = (0, 0);
    let mut restart_error = None;
    b.settle(
        &lp,
        "all messages read across stop_read/start_read",
        &mut || {
            while next < n && peer.send(&sent[next]) {
                next += 1;
            }
            if !reading.get() {
                stopped_turns += 1;
                if stopped_turns == 3 {
                    stopped_turns = 0;
                    reading.set(true);
                    if let Err(e) = start(&h) {
                        restart_error = Some(e);
                        return true;
                    }
                }
            }
            read.borrow().len() >= n
        },
    )?;
    if let Some(e) = restart_error {
        return Err(format!("{}: start_read again: {e:?}", b.name()));
    }
    ensure(violations.borrow().is_empty(), || {
        format!("{}: {:?}", b.name(), violations.borrow())
    })?;
    let got = read.borrow().clone();
    ensure(got == sent, || {
        format!("{}: read {got:?}\n  != sent {sent:?}", b.name())
    })
}

/// `n` writes are queued while the peer reads nothing; once some went out
/// the handle is closed: the rest get `Err(Closed)` in order, from the
/// loop (none inside `close`), then the close callback runs once, last;
/// the peer then finds exactly the writes completed `Ok`, in order.
/// With `run_first` false the loop never ran before `close`: all `n` are
/// cancelled.
pub fn close_cancels_queued_writes<B: Backend>(
    b: &mut B,
    pattern: Pattern,
    n: usize,
    run_first: bool,
) -> Result<(), String> {
    let lp = b.new_loop();
    let (socket, peer) = b.connect(pattern);
    let h = Handle::<B>::new(&lp, socket).map_err(|e| format!("new: {e:?}"))?;
    #[derive(Debug, PartialEq)]
    enum Ev {
        Done(usize, CoreResult<()>),
        Closed,
    }
    let log: Log<Ev> = Rc::default();
    let sent: Vec<Msg> = (0..n).map(|i| msg('c', i)).collect();
    for (i, m) in sent.iter().enumerate() {
        let log = log.clone();
        h.write_with(m.clone(), move |_h: &Handle<B>, r| {
            log.borrow_mut().push(Ev::Done(i, r))
        })
        .map_err(|e| format!("write {i}: {e:?}"))?;
    }
    if run_first {
        b.settle(&lp, "a first write taken", &mut || !log.borrow().is_empty())?;
    }
    let before = log.borrow().len();
    {
        let log = log.clone();
        h.close_with(move |_h: &Handle<B>| log.borrow_mut().push(Ev::Closed));
    }
    ensure(log.borrow().len() == before, || {
        format!("{}: a callback ran inside close()", b.name())
    })?;
    ensure(h.is_closed(), || {
        format!("{}: not closed after close_with", b.name())
    })?;
    ensure(matches!(h.write(vec![1u8]), Err(Error::Closed)), || {
        format!(
            "{}: write on a closed handle did not return Err(Closed)",
            b.name()
        )
    })?;
    b.settle(&lp, "the close callback", &mut || {
        log.borrow().last() == Some(&Ev::Closed)
    })?;
    let log = log.borrow();
    let taken = log
        .iter()
        .filter(|e| matches!(e, Ev::Done(_, Ok(()))))
        .count();
    let expected: Vec<Ev> = (0..n)
        .map(|i| {
            Ev::Done(
                i,
                if i < taken {
                    Ok(())
                } else {
                    Err(Error::Closed)
                },
            )
        })
        .chain([Ev::Closed])
        .collect();
    ensure(*log == expected, || {
        format!("{}: events {log:?}\n  expected {expected:?}", b.name())
    })?;
    ensure(run_first || taken == 0, || {
        format!(
            "{}: {taken} writes went out though the loop never ran",
            b.name()
        )
    })?;
    ensure(taken < n, || {
        format!(
            "{}: all {n} writes went out despite the small HWMs (test needs more)",
            b.name()
        )
    })?;
    let mut got = Vec::new();
    b.settle(&lp, "the taken writes at the peer", &mut || {
        while let Some(m) = peer.recv() {
            got.push(m);
        }
        got.len() >= taken
    })?;
    ensure(got[..] == sent[..taken], || {
        format!(
            "{}: peer got {got:?}, expected the first {taken} writes",
            b.name()
        )
    })
}

/// A REQ handle written twice at once: the second request waits for the
/// reply to the first (its completion does not run, no EFSM), then goes.
pub fn req_second_write_waits_for_the_reply<B: Backend>(b: &mut B) -> Result<(), String> {
    let lp = b.new_loop();
    let (socket, peer) = b.connect(Pattern::Req);
    let h = Handle::<B>::new(&lp, socket).map_err(|e| format!("new: {e:?}"))?;
    let read: Log<CoreResult<Msg>> = Rc::default();
    h.start_read(recorder::<B>(&read))
        .map_err(|e| format!("start_read: {e:?}"))?;
    let done: Log<(usize, CoreResult<()>)> = Rc::default();
    for i in 0..2 {
        let done = done.clone();
        h.write_with(msg('q', i), move |_h: &Handle<B>, r| {
            done.borrow_mut().push((i, r))
        })
        .map_err(|e| format!("write {i}: {e:?}"))?;
    }
    let mut requests = Vec::new();
    b.settle(&lp, "the first request at the peer", &mut || {
        if let Some(m) = peer.recv() {
            requests.push(m);
        }
        !requests.is_empty() && !done.borrow().is_empty()
    })?;
    ensure(requests == [msg('q', 0)], || {
        format!("{}: peer got {requests:?}", b.name())
    })?;
    ensure(*done.borrow() == [(0, Ok(()))], || {
        format!("{}: completions {:?}", b.name(), done.borrow())
    })?;
    ensure(h.write_queue_size() == 1, || {
        format!(
            "{}: the second request did not wait (queue {})",
            b.name(),
            h.write_queue_size()
        )
    })?;
    ensure(peer.send(&msg('r', 0)), || {
        format!("{}: the peer could not reply", b.name())
    })?;
    b.settle(
        &lp,
        "the first reply read and the second request at the peer",
        &mut || {
            if let Some(m) = peer.recv() {
                requests.push(m);
            }
            requests.len() >= 2 && !read.borrow().is_empty()
        },
    )?;
    ensure(requests == [msg('q', 0), msg('q', 1)], || {
        format!("{}: peer got {requests:?}", b.name())
    })?;
    ensure(peer.send(&msg('r', 1)), || {
        format!("{}: the peer could not reply", b.name())
    })?;
    b.settle(&lp, "the second reply", &mut || {
        read.borrow().len() >= 2 && done.borrow().len() >= 2
    })?;
    ensure(oks(&read)? == [msg('r', 0), msg('r', 1)], || {
        format!("{}: replies {:?}", b.name(), read.borrow())
    })?;
    ensure(*done.borrow() == [(0, Ok(())), (1, Ok(()))], || {
        format!("{}: completions {:?}", b.name(), done.borrow())
    })
}

/// A REP handle echoing from its read callback: `n` requests from a REQ
/// peer, one at a time, each answered once, in order, with no EFSM.
pub fn rep_echo<B: Backend>(b: &mut B, n: usize) -> Result<(), String> {
    let lp = b.new_loop();
    let (socket, peer) = b.connect(Pattern::Rep);
    let h = Handle::<B>::new(&lp, socket).map_err(|e| format!("new: {e:?}"))?;
    let errors: Log<String> = Rc::default();
    {
        let errors = errors.clone();
        h.start_read(move |h: &Handle<B>, m| match m {
            Ok(m) => {
                let log = errors.clone();
                let res = h.write_with(m, move |_h: &Handle<B>, r| {
                    if let Err(e) = r {
                        log.borrow_mut().push(format!("reply completion {e:?}"));
                    }
                });
                if let Err(e) = res {
                    errors.borrow_mut().push(format!("reply refused: {e:?}"));
                }
            }
            Err(e) => errors.borrow_mut().push(format!("read error {e:?}")),
        })
        .map_err(|e| format!("start_read: {e:?}"))?;
    }
    let mut replies = Vec::new();
    let mut asked = 0;
    b.settle(&lp, "all echoes", &mut || {
        if let Some(m) = peer.recv() {
            replies.push(m);
        }
        if asked == replies.len() && asked < n && peer.send(&msg('e', asked)) {
            asked += 1;
        }
        replies.len() >= n
    })?;
    ensure(errors.borrow().is_empty(), || {
        format!("{}: {:?}", b.name(), errors.borrow())
    })?;
    let expected: Vec<Msg> = (0..n).map(|i| msg('e', i)).collect();
    ensure(replies == expected, || {
        format!("{}: echoes {replies:?}\n  != {expected:?}", b.name())
    })
}

/// A repeating timer with a sub-millisecond period fires again and again:
/// the core rounds it up to one whole loop millisecond on every backend
/// (truncated to zero, it would fire once and stop). Runs the loop in
/// `Once` mode, which waits for the next timer (virtual time on the mock),
/// a bounded number of times.
pub fn sub_millisecond_repeat_keeps_firing<B: Backend>(
    b: &mut B,
    fires: usize,
) -> Result<(), String> {
    const MAX_RUNS: usize = 1_000;
    let lp = b.new_loop();
    let t = TimerHandle::new(&lp).map_err(|e| format!("timer: {e:?}"))?;
    let count = Rc::new(Cell::new(0));
    let c = count.clone();
    let period = Duration::from_micros(500);
    t.start(period, period, move |_| c.set(c.get() + 1))
        .map_err(|e| format!("start: {e:?}"))?;
    for _ in 0..MAX_RUNS {
        if count.get() >= fires {
            break;
        }
        lp.run(RunMode::Once)
            .map_err(|e| format!("{}: run: {e:?}", b.name()))?;
    }
    let fired = count.get();
    ensure(fired >= fires, || {
        format!(
            "{}: a {period:?} repeating timer fired {fired} times in {MAX_RUNS} runs, \
             not {fires} (active: {})",
            b.name(),
            t.is_active()
        )
    })?;
    ensure(
        t.is_active() && t.repeat() == Duration::from_millis(1),
        || {
            format!(
                "{}: after {fired} fires: active {}, repeat {:?} (not 1 ms)",
                b.name(),
                t.is_active(),
                t.repeat()
            )
        },
    )?;
    t.close();
    Ok(())
}
