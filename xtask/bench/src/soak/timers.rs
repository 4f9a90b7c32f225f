//! Repeating timers started and stopped in turn: each tick toggles one of
//! them, and a timer must never fire while it is stopped.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use uzmq::{Loop, Timer};

use super::part::Part;
use super::tally::Tally;
use super::wire::SetupResult;

/// How many repeating timers take turns.
const TIMERS: usize = 4;
/// Their timeout and repeat: a few fires per tick while started.
const PERIOD: Duration = Duration::from_millis(3);

/// The timers, whether each is started, and their fires.
pub struct Timers {
    timers: Vec<Timer>,
    started: Rc<[Cell<bool>; TIMERS]>,
    fires: Rc<Cell<u64>>,
    ticks: Cell<usize>,
    tally: Rc<Tally>,
}

impl Timers {
    /// The timers, all stopped.
    pub fn new(lp: &Loop, tally: &Rc<Tally>) -> SetupResult<Timers> {
        Ok(Timers {
            timers: (0..TIMERS)
                .map(|_| Timer::new(lp))
                .collect::<Result<_, _>>()?,
            started: Rc::default(),
            fires: Rc::default(),
            ticks: Cell::new(0),
            tally: tally.clone(),
        })
    }
}

impl Part for Timers {
    fn name(&self) -> String {
        "repeating timers".into()
    }

    fn tick(&self) {
        let i = self.ticks.get() % TIMERS;
        self.ticks.set(self.ticks.get() + 1);
        let (timer, started) = (&self.timers[i], &self.started[i]);
        if started.get() {
            started.set(false);
            if let Err(err) = timer.stop() {
                self.tally.fail(format!("timer {i}: stop refused: {err}"));
            }
            return;
        }
        let (s, f, t) = (self.started.clone(), self.fires.clone(), self.tally.clone());
        let result = timer.start(PERIOD, PERIOD, move |_| {
            if !s[i].get() {
                t.fail(format!("timer {i} fired while stopped"));
            }
            f.set(f.get() + 1);
        });
        match result {
            Ok(()) => started.set(true),
            Err(err) => self.tally.fail(format!("timer {i}: start refused: {err}")),
        }
    }

    fn idle(&self) -> bool {
        true
    }

    fn close(&self) {
        for timer in &self.timers {
            timer.close();
        }
    }

    fn check(&self) {
        if self.ticks.get() > TIMERS && self.fires.get() == 0 {
            self.tally.fail("the repeating timers never fired");
        }
    }
}
