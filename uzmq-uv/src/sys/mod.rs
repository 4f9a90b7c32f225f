//! Every call into libuv, one module per handle kind (as mio keeps its
//! platform code in `sys/`); the rest of the crate is safe code.
//!
//! The memory rules all modules here follow:
//! - the loop and every handle live in their own heap block, so the address
//!   libuv keeps never moves;
//! - a handle's block is freed only in its `uv_close` callback, or at once
//!   when its `uv_*_init` failed (libuv never saw it);
//! - a Rust handle derefs its block only while the loop's `Rc` is alive:
//!   loop teardown is the only other place that closes handles, and it only
//!   starts once the last strong reference is gone.

mod async_wake;
mod error;
mod handle;
mod loop_state;
mod poll;
mod signal;
mod timer;
mod turn;

pub(crate) use async_wake::{Async, Target};
pub(crate) use loop_state::LoopState;
pub(crate) use poll::Poll;
pub(crate) use signal::Signal;
pub(crate) use timer::Timer;

#[cfg(test)]
pub(crate) use error::uv_error;
#[cfg(test)]
pub(crate) use handle::live_blocks;
