//! W8's idle handles: thousands of sockets that never see a message, each
//! read through its own handle on the measured loop (uzmq) or merely open
//! (raw), beside the socket that does the work; and the memory one such
//! handle costs over its libzmq socket.

use std::cell::RefCell;
use std::rc::Rc;

use uzmq::{Events, Loop, RunMode, Timer, Zmq, ZmqPoll};
use uzmq_zmq::LargeContext;

use super::{Failure, HandleKind, Outcome};
use crate::json::Value;
use crate::scale::{ensure_fds, rss_bytes};

/// A context for `k` idle sockets (and a few more), the fd limit raised
/// to fit them; `None` for none.
pub fn context(k: usize) -> Result<Option<LargeContext>, Failure> {
    if k == 0 {
        return Ok(None);
    }
    ensure_fds(k).map_err(Failure::Other)?;
    Ok(Some(LargeContext::new(k + 64)?))
}

/// `k` unconnected PULL sockets of `ctx`.
pub fn sockets(ctx: Option<&LargeContext>, k: usize) -> Result<Vec<zmq::Socket>, Failure> {
    let Some(ctx) = ctx else {
        return Ok(Vec::new());
    };
    (0..k)
        .map(|_| {
            let s = ctx.socket(zmq::PULL)?;
            s.set_linger(0)?;
            Ok(s)
        })
        .collect()
}

/// Idle handles on a loop, reading (`Zmq`) or polling for input
/// (`ZmqPoll`); [`IdleHandles::close_all`] closes them so that the loop
/// can end.
#[derive(Clone, Default)]
pub struct IdleHandles(Rc<RefCell<Vec<Closer>>>);

/// Closes one handle.
pub type Closer = Box<dyn Fn()>;

impl IdleHandles {
    /// Wraps every socket in a handle of `kind` on `lp`, started.
    pub fn open(lp: &Loop, kind: HandleKind, sockets: Vec<zmq::Socket>) -> Result<Self, Failure> {
        let mut closers: Vec<Closer> = Vec::with_capacity(sockets.len());
        for socket in sockets {
            match kind {
                HandleKind::Stream | HandleKind::Frames => {
                    let h = Zmq::new(lp, socket)?;
                    h.start_read(|_, _| {})?;
                    closers.push(Box::new(move || h.close()));
                }
                HandleKind::Poll => {
                    let h = ZmqPoll::new(lp, socket)?;
                    h.start(Events::READABLE, |_, _, _| {})?;
                    closers.push(Box::new(move || h.close()));
                }
            }
        }
        Ok(IdleHandles(Rc::new(RefCell::new(closers))))
    }

    /// How many are open.
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes every handle (once; later calls do nothing).
    pub fn close_all(&self) {
        let closers = std::mem::take(&mut *self.0.borrow_mut());
        for close in closers {
            close();
        }
    }
}

/// What ends a uzmq workload with idle handles: its timeout timer, and
/// the loop. With idle handles, `close` stops the loop rather than closing
/// them, so that tearing 10,000 handles down is not counted as the cost of
/// the last round trip; [`Ender::finish`] closes them after the window.
#[derive(Clone)]
pub struct Ender {
    timer: Timer,
    idle: IdleHandles,
    lp: Loop,
}

impl Ender {
    /// Ends `timer` on `lp`, with `idle` beside it.
    pub fn new(lp: &Loop, timer: &Timer, idle: &IdleHandles) -> Ender {
        Ender {
            timer: timer.clone(),
            idle: idle.clone(),
            lp: lp.clone(),
        }
    }

    /// The measured work is done: closes the timer, and stops the loop if
    /// idle handles would keep it running.
    pub fn close(&self) {
        self.timer.close();
        if !self.idle.is_empty() {
            self.lp.stop();
        }
    }

    /// After the window: closes the idle handles and runs the loop until
    /// they are gone.
    pub fn finish(&self) -> uzmq::Result<()> {
        if self.idle.is_empty() {
            return Ok(());
        }
        self.idle.close_all();
        self.lp.run(RunMode::Default).map(drop)
    }
}

/// W8 memory: the resident memory of `k` libzmq sockets, then of the same
/// sockets read through handles of `kind` on a loop (`None`: raw, no
/// handles), per socket and per handle.
pub fn memory(kind: Option<HandleKind>, k: usize) -> Result<Outcome, Failure> {
    let no_proc = || Failure::Other("cannot read VmRSS (no /proc?)".into());
    let ctx = context(k.max(1))?;
    let lp = Loop::new()?;
    let rss0 = rss_bytes().ok_or_else(no_proc)?;
    let socks = sockets(ctx.as_ref(), k)?;
    let rss1 = rss_bytes().ok_or_else(no_proc)?;
    let rss2 = match kind {
        None => {
            drop(socks);
            rss1
        }
        Some(kind) => {
            let idle = IdleHandles::open(&lp, kind, socks)?;
            // One turn: every handle registered with the loop and polling.
            lp.run(RunMode::NoWait)?;
            let rss2 = rss_bytes().ok_or_else(no_proc)?;
            idle.close_all();
            lp.run(RunMode::Default)?;
            rss2
        }
    };
    drop(lp);
    let per = |a: u64, b: u64| b.saturating_sub(a) as f64 / k.max(1) as f64;
    Ok(Outcome {
        json: Value::object()
            .with("workload", "w8mem")
            .with("sockets", k)
            .with("socket_bytes", per(rss0, rss1))
            .with("handle_bytes", per(rss1, rss2))
            .with("rss_before", rss0)
            .with("rss_sockets", rss1)
            .with("rss_handles", rss2),
        complete: true,
        cpu_s: None,
    })
}
