//! What the scale workloads (W7 fan-in, W8 idle handles) need to open
//! thousands of sockets in one process, besides a context with a raised
//! socket limit (`uzmq_zmq::LargeContext`): the file descriptor limit
//! raised to its hard limit (every libzmq socket holds an eventfd), and
//! the resident memory of the process, to price an idle handle.

use std::fs;

use nix::sys::resource::{Resource, getrlimit, setrlimit};

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
    fn a_large_context_holds_more_sockets_than_the_default() {
        ensure_fds(1100).expect("fd limit");
        let ctx = uzmq_zmq::LargeContext::new(1100).expect("context");
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
