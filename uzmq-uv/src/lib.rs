//! uzmq's libuv backend: [`UvLoop`] implements [`uzmq_core::Reactor`] on a
//! real `uv_loop_t` (libuv built from source by `libuv-sys2`).
//!
//! - [`UvLoop`]: the loop; a cheap `Rc` handle, torn down with the last clone.
//! - [`UvWatch`]: a `uv_poll_t` watching one fd for readability.
//! - [`UvTimer`]: a `uv_timer_t`.
//! - [`UvSignal`]: a `uv_signal_t`.
//! - [`UvAsync`] / [`UvWake`]: a `uv_async_t`, and what other threads wake
//!   the loop with.
//! - The turn: a `uv_check_t` running the core's hook in the check phase
//!   while armed, and a `uv_idle_t` started only while armed, so a loop with
//!   nothing to do blocks in the kernel.
//!
//! All `unsafe` lives in the private `sys` module, one file per libuv handle
//! kind; the crate root denies `unsafe_code` elsewhere. The rules it keeps:
//! handle memory is freed only in the `uv_close` callback; a handle whose
//! loop is gone is inert; user callbacks never unwind into C (a panic is
//! resumed from [`Reactor::run`](uzmq_core::Reactor::run)); no user callback
//! runs while the loop is torn down, they are only dropped.
#![deny(unsafe_code)]

mod async_handle;
mod signal;
#[allow(unsafe_code)]
mod sys;
mod timer;
mod uv_loop;
mod watch;

#[cfg(test)]
mod tests;

pub use async_handle::{UvAsync, UvWake};
pub use signal::UvSignal;
pub use timer::UvTimer;
pub use uv_loop::UvLoop;
pub use watch::UvWatch;
