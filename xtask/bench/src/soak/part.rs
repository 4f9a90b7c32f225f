//! The interface every piece of the soak workload offers the driver.

/// One piece of the workload (a flow, the timers, the churn, ...). The
/// driver calls [`Part::tick`] every tick while the run lasts; at the end it
/// waits until every part is [`Part::idle`], closes them all, and once the
/// loop has ended calls [`Part::check`].
pub trait Part {
    /// The part's name, for messages.
    fn name(&self) -> String;
    /// Starts the next round of work when the last one is done.
    fn tick(&self);
    /// Nothing is in flight: closing now loses nothing that was sent.
    fn idle(&self) -> bool;
    /// Closes the part's handles.
    fn close(&self);
    /// The checks that need the loop to have ended (every close callback
    /// ran); failures go to the tally.
    fn check(&self) {}
}
