//! Shared by the server examples: a graceful end on SIGINT (Ctrl-C) or SIGTERM.

use std::cell::Cell;
use std::rc::Rc;

use uzmq::{Loop, Signal};

/// SIGINT and SIGTERM (the same numbers on every POSIX system).
const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

/// Runs `stop` once, from the loop, on the first SIGINT or SIGTERM, and
/// closes both signal handles, so that once `stop` has wound the handles
/// down nothing is active and `Loop::run` returns. Returns the signal
/// handles, for an end that comes otherwise to close them.
pub fn on_sigint_or_sigterm(lp: &Loop, stop: impl FnOnce() + 'static) -> uzmq::Result<[Signal; 2]> {
    let signals = [Signal::new(lp)?, Signal::new(lp)?];
    let stop = Rc::new(Cell::new(Some(stop)));
    for (signal, signum) in signals.iter().zip([SIGINT, SIGTERM]) {
        let (stop, both) = (stop.clone(), signals.clone());
        signal.start_oneshot(signum, move |_, signum| {
            eprintln!("signal {signum}: shutting down");
            if let Some(stop) = stop.take() {
                stop();
            }
            for s in &both {
                s.close();
            }
        })?;
    }
    Ok(signals)
}
