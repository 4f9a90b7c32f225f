//! What the scale workloads (W7 fan-in, W8 idle handles) need to open
//! thousands of sockets in one process: a libzmq context whose socket
//! limit is raised (libzmq's default is 1,023 and the `zmq` crate has no
//! setter for it, hence the only `unsafe` code of this package), the file
//! descriptor limit raised to its hard limit (every libzmq socket holds an
//! eventfd), and the resident memory of the process, to price an idle handle.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::fs;

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use uzmq::zmq_sys;

/// A libzmq context that allows `max_sockets` sockets.
///
/// Its sockets ([`ManyContext::socket`]) do not keep it alive: drop (or
/// close) every one of them before the context, whose drop waits for them
/// (`zmq_ctx_term`).
#[derive(Debug)]
pub struct ManyContext {
    ctx: *mut c_void,
}

impl ManyContext {
    /// A new context allowing `max_sockets` sockets.
    pub fn new(max_sockets: usize) -> Result<ManyContext, zmq::Error> {
        // SAFETY: zmq_ctx_new takes no arguments; it returns a new context
        // or null, checked below.
        let ctx = unsafe { zmq_sys::zmq_ctx_new() };
        if ctx.is_null() {
            return Err(last_error());
        }
        let context = ManyContext { ctx };
        let limit = i32::try_from(max_sockets).map_err(|_| zmq::Error::EINVAL)?;
        // SAFETY: `ctx` is the live context created above and owned by
        // `context`; ZMQ_MAX_SOCKETS takes an int by value.
        let rc = unsafe { zmq_sys::zmq_ctx_set(ctx, zmq_sys::ZMQ_MAX_SOCKETS as i32, limit) };
        if rc == -1 {
            return Err(last_error());
        }
        Ok(context)
    }

    /// A new socket of this context: PULL or PUSH, the kinds the scale
    /// workloads use (`EINVAL` for others).
    pub fn socket(&self, kind: zmq::SocketType) -> Result<zmq::Socket, zmq::Error> {
        // The `zmq` crate keeps its socket type numbers private.
        let raw = match kind {
            zmq::PULL => zmq_sys::ZMQ_PULL,
            zmq::PUSH => zmq_sys::ZMQ_PUSH,
            _ => return Err(zmq::Error::EINVAL),
        };
        // SAFETY: `self.ctx` is a live context (it is terminated only when
        // `self` drops); zmq_socket returns a new socket or null.
        let sock = unsafe { zmq_sys::zmq_socket(self.ctx, raw as i32) };
        if sock.is_null() {
            return Err(last_error());
        }
        // SAFETY: `sock` is the socket just created, owned by nothing else;
        // the `zmq::Socket` closes it when dropped.
        Ok(unsafe { zmq::Socket::from_raw(sock) })
    }
}

impl Drop for ManyContext {
    fn drop(&mut self) {
        loop {
            // SAFETY: `self.ctx` is the live context this value owns; it is
            // not used after this loop. zmq_ctx_term may be interrupted
            // (EINTR), then it is called again, as the `zmq` crate does.
            let rc = unsafe { zmq_sys::zmq_ctx_term(self.ctx) };
            if rc == 0 || last_error() != zmq::Error::EINTR {
                break;
            }
        }
    }
}

fn last_error() -> zmq::Error {
    // SAFETY: zmq_errno only reads the calling thread's errno.
    zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() })
}

/// Raises the soft limit of open files to the hard limit, so that
/// thousands of sockets fit; returns the new soft limit.
pub fn raise_fd_limit() -> Result<u64, String> {
    let (soft, hard) =
        getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| format!("getrlimit(NOFILE): {e}"))?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
            .map_err(|e| format!("setrlimit(NOFILE, {hard}): {e}"))?;
    }
    Ok(hard)
}

/// The files a workload needs for `sockets` libzmq sockets (an eventfd
/// each) plus slack; an error saying so when the hard limit is lower.
pub fn ensure_fds(sockets: usize) -> Result<(), String> {
    let need = sockets as u64 + 256;
    let limit = raise_fd_limit()?;
    if limit < need {
        return Err(format!(
            "{sockets} sockets need about {need} open files, the hard limit is {limit} (raise it with `ulimit -Hn` as root)"
        ));
    }
    Ok(())
}

/// The resident set size of this process in bytes (`VmRSS` of
/// `/proc/self/status`); `None` without `/proc`.
pub fn rss_bytes() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_holds_more_sockets_than_the_default() {
        ensure_fds(1100).expect("fd limit");
        let ctx = ManyContext::new(1100).expect("context");
        let sockets: Vec<zmq::Socket> = (0..1100)
            .map(|i| {
                ctx.socket(zmq::PULL)
                    .unwrap_or_else(|e| panic!("socket {i}: {e}"))
            })
            .collect();
        assert_eq!(sockets.len(), 1100);
        drop(sockets);
        drop(ctx);
        assert!(rss_bytes().unwrap() > 0);
    }
}
