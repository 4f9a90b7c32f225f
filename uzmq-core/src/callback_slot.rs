//! A user callback's home in handle state, and lending it out to run it.
//!
//! The callback is taken out of its slot before user code runs (so no
//! borrow of the handle's state is alive while it runs) and put back after,
//! unless the user replaced it, or closed the handle, meanwhile: a
//! generation number tells. The put-back happens in `Drop`, so a panicking
//! callback is not lost either.

use std::cell::RefCell;

/// Holds at most one callback and a generation bumped on every change.
pub(crate) struct Slot<F: ?Sized> {
    cb: Option<Box<F>>,
    generation: u64,
}

impl<F: ?Sized> Default for Slot<F> {
    fn default() -> Self {
        Slot {
            cb: None,
            generation: 0,
        }
    }
}

impl<F: ?Sized> Slot<F> {
    /// Installs `cb`; returns the old one, to be dropped outside any borrow.
    #[must_use]
    pub(crate) fn replace(&mut self, cb: Box<F>) -> Option<Box<F>> {
        self.generation += 1;
        self.cb.replace(cb)
    }

    /// Empties the slot; a callback lent out now is not put back.
    #[must_use]
    pub(crate) fn clear(&mut self) -> Option<Box<F>> {
        self.generation += 1;
        self.cb.take()
    }

    /// Whether a callback is home (not lent out, not cleared).
    pub(crate) fn is_set(&self) -> bool {
        self.cb.is_some()
    }
}

/// A callback lent out of a [`Slot`] in a `RefCell`'d state.
pub(crate) struct Lent<'a, S, F: ?Sized> {
    state: &'a RefCell<S>,
    slot: fn(&mut S) -> &mut Slot<F>,
    cb: Option<Box<F>>,
    generation: u64,
}

impl<'a, S, F: ?Sized> Lent<'a, S, F> {
    /// Takes the callback out of its slot, if it is home.
    pub(crate) fn take(state: &'a RefCell<S>, slot: fn(&mut S) -> &mut Slot<F>) -> Option<Self> {
        let mut st = state.borrow_mut();
        let home = slot(&mut st);
        let cb = home.cb.take()?;
        let generation = home.generation;
        drop(st);
        Some(Lent {
            state,
            slot,
            cb: Some(cb),
            generation,
        })
    }

    /// As [`take`](Self::take), inside a borrow `st` of `state` the caller
    /// holds anyway (one borrow for the step's bookkeeping and the lending).
    #[inline]
    pub(crate) fn take_in(
        state: &'a RefCell<S>,
        st: &mut S,
        slot: fn(&mut S) -> &mut Slot<F>,
    ) -> Option<Self> {
        let home = slot(st);
        let cb = home.cb.take()?;
        Some(Lent {
            state,
            slot,
            cb: Some(cb),
            generation: home.generation,
        })
    }

    /// Puts the callback back into `home`, its slot, inside a borrow of the
    /// state the caller holds, as `Drop` would with a borrow of its own.
    /// Returns it if the slot was replaced or cleared meanwhile, to be
    /// dropped after that borrow ends.
    #[must_use]
    #[inline]
    pub(crate) fn put_back(mut self, home: &mut Slot<F>) -> Option<Box<F>> {
        let rejected = self.go_home(home);
        // Nothing is left for `Drop` to do (`self` is empty and owns
        // nothing else); skipping it saves a call on every step.
        std::mem::forget(self);
        rejected
    }

    /// Moves the callback back into `home` if that is still its home;
    /// otherwise hands it back. Empties `self` either way.
    #[inline]
    fn go_home(&mut self, home: &mut Slot<F>) -> Option<Box<F>> {
        let cb = self.cb.take()?;
        if self.is_current(home) {
            home.cb = Some(cb);
            None
        } else {
            Some(cb)
        }
    }

    /// Whether `slot` is still this callback's home, unchanged since it
    /// was lent (not replaced, not cleared): every change of a slot moves
    /// its generation on, so the same generation means it still waits,
    /// empty, for this callback.
    #[inline]
    pub(crate) fn is_current(&self, slot: &Slot<F>) -> bool {
        slot.generation == self.generation
    }

    /// The callback, to call. No borrow of the state is held.
    pub(crate) fn get(&mut self) -> &mut F {
        self.cb
            .as_deref_mut()
            .expect("lent callback is present until drop")
    }
}

impl<S, F: ?Sized> Drop for Lent<'_, S, F> {
    fn drop(&mut self) {
        if self.cb.is_none() {
            return;
        }
        let rejected = self.go_home((self.slot)(&mut self.state.borrow_mut()));
        // Replaced or cleared while it ran: drop the old one, outside the borrow.
        drop(rejected);
    }
}
