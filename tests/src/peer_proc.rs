//! A `netfault_peer` child process seen from the test: its stdout parsed into [`Line`]s by a reader thread, bounded waits on what it reports, SIGKILL, and a `Drop` that kills and reaps it so that no peer outlives a failed test.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::peer_line::{Line, RecvReport, SendReport};

/// A running peer process.
pub struct PeerProc {
    name: String,
    child: Child,
    lines: mpsc::Receiver<Line>,
    /// The reader thread saw end of file: the process exited (or closed
    /// its stdout, which the peer never does before exiting).
    eof: bool,
    last_sent: Option<SendReport>,
    last_recv: Option<RecvReport>,
}

impl PeerProc {
    /// Starts `command` with its stdout piped to a reader thread; stderr is
    /// the test's (a peer prints only errors there). Panics, naming the
    /// peer, if it cannot start.
    pub fn spawn(name: &str, mut command: Command) -> PeerProc {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start peer `{name}` ({command:?}): {err}"));
        let stdout = child.stdout.take().expect("stdout was piped");
        let (tx, lines) = mpsc::channel();
        let peer = name.to_owned();
        thread::Builder::new()
            .name(format!("{name} stdout"))
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    match Line::parse(&line) {
                        Some(parsed) => {
                            if tx.send(parsed).is_err() {
                                break;
                            }
                        }
                        None => eprintln!("{peer}: {line}"),
                    }
                }
                // `tx` drops here: the receiver sees the end.
            })
            .expect("spawn a peer reader thread");
        PeerProc {
            name: name.to_owned(),
            child,
            lines,
            eof: false,
            last_sent: None,
            last_recv: None,
        }
    }

    /// The peer's name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The last sender report seen so far.
    pub fn last_sent(&self) -> Option<SendReport> {
        self.last_sent
    }

    /// Reads every line printed so far, without waiting, and returns the
    /// latest sender report among all seen: how far the sender is now
    /// (give or take its report period).
    pub fn latest_sent(&mut self) -> Option<SendReport> {
        self.catch_up();
        self.last_sent
    }

    /// As [`latest_sent`](Self::latest_sent), for a receiver.
    pub fn latest_recv(&mut self) -> Option<RecvReport> {
        self.catch_up();
        self.last_recv
    }

    /// Reads every line printed so far, without waiting.
    fn catch_up(&mut self) {
        let now = Instant::now();
        while self.next_line(now).is_some() {}
    }

    /// The last receiver report seen so far.
    pub fn last_recv(&self) -> Option<RecvReport> {
        self.last_recv
    }

    /// Takes the next line, waiting until `deadline`; `None` on timeout or
    /// once the process's output ended.
    fn next_line(&mut self, deadline: Instant) -> Option<Line> {
        if self.eof {
            return None;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => {
                match &line {
                    Line::Sent(s) => self.last_sent = Some(*s),
                    Line::Recv(r) => self.last_recv = Some(*r),
                    Line::Endpoint(_) => {}
                }
                Some(line)
            }
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                self.eof = true;
                None
            }
        }
    }

    /// Reads lines until `pick` returns `Some` for one, at most `limit`;
    /// panics with "`peer`: timed out after ... waiting for `what`" (or
    /// "exited while waiting for ...") and the last reports otherwise.
    pub fn wait_for<T>(
        &mut self,
        limit: Duration,
        what: &str,
        mut pick: impl FnMut(&Line) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + limit;
        loop {
            match self.next_line(deadline) {
                Some(line) => {
                    if let Some(found) = pick(&line) {
                        return found;
                    }
                }
                None => {
                    let how = if self.eof {
                        "exited".to_owned()
                    } else {
                        format!("timed out after {limit:?}")
                    };
                    panic!(
                        "peer `{}` {how} while the test waited for {what} (last reports: {:?}, {:?})",
                        self.name, self.last_sent, self.last_recv
                    );
                }
            }
        }
    }

    /// Waits up to `limit` for a receiver report that `pred` accepts.
    pub fn wait_recv(
        &mut self,
        limit: Duration,
        what: &str,
        mut pred: impl FnMut(&RecvReport) -> bool,
    ) -> RecvReport {
        self.wait_for(limit, what, |line| match line {
            Line::Recv(r) if pred(r) => Some(*r),
            _ => None,
        })
    }

    /// Waits up to `limit` for the process to exit by itself, reading (and
    /// recording) what it still prints; returns its exit status.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        while !self.eof {
            if self.next_line(deadline).is_none() && !self.eof {
                panic!(
                    "peer `{}` did not exit within {limit:?} (its deadline should have ended it; last reports: {:?}, {:?})",
                    self.name, self.last_sent, self.last_recv
                );
            }
        }
        // Its stdout is closed: it exited, so this returns at once.
        self.child
            .wait()
            .unwrap_or_else(|err| panic!("waiting for peer `{}`: {err}", self.name))
    }

    /// SIGKILL, then reaps it and reads what it printed before it died.
    pub fn kill(&mut self, limit: Duration) -> ExitStatus {
        self.child
            .kill()
            .unwrap_or_else(|err| panic!("cannot kill peer `{}`: {err}", self.name));
        self.wait_exit(limit)
    }
}

impl Drop for PeerProc {
    fn drop(&mut self) {
        // Fails only when it already exited and was reaped: nothing to do.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
