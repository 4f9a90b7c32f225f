//! Running one measurement: the peer (measured side) and its counterpart as
//! child processes on a free port, each with a deadline after which it is
//! killed, and their JSON lines parsed.

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use crate::json::Value;

/// How often the driver looks at its children (it never busy-waits).
const POLL_EVERY: Duration = Duration::from_millis(2);

/// Attempts at a free port before the run is reported as failed.
const PORT_ATTEMPTS: usize = 4;

/// A program and its arguments, minus `--port`, which is added per attempt.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments (without `--port`).
    pub args: Vec<String>,
    /// Killed when still running this long after it started.
    pub timeout: Duration,
}

impl Spec {
    /// The command line, for the children log: `program arg ...`, or
    /// `(no counterpart)` for a cell that has none.
    pub fn describe(spec: Option<&Spec>) -> String {
        spec.map_or("(no counterpart)".into(), |s| {
            format!("{} {}", s.program.display(), s.args.join(" "))
        })
    }
}

/// How a child ended.
#[derive(Debug, Clone)]
pub struct Ended {
    /// Its exit status; `None` when the driver killed it at its deadline.
    pub status: Option<ExitStatus>,
    /// Its JSON line, when it printed a parseable one.
    pub json: Option<Value>,
    /// What went wrong, for the report (empty when nothing did).
    pub problem: String,
}

impl Ended {
    /// The end of a child that was never meant to run: no status, no
    /// JSON, no problem.
    pub fn nothing() -> Ended {
        failed(String::new())
    }

    /// Exited 0 with a JSON line.
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| s.success()) && self.json.is_some()
    }
}

/// The peer's and the counterpart's ends.
#[derive(Debug, Clone)]
pub struct Pair {
    /// The measured side.
    pub peer: Ended,
    /// The other side (`None` when none was run).
    pub counterpart: Option<Ended>,
}

/// A port that was free a moment ago: bind 127.0.0.1:0, read, drop. Another
/// process may take it before the peer binds; the peer then exits with
/// status 3 and [`run_pair`] tries another.
pub fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

/// Runs `peer` and then `counterpart` on a free port and waits for both.
///
/// After the peer ends, the counterpart gets `grace` to end by itself
/// (none when `kill_counterpart` is set, for the silent W4 peer) before it
/// is killed. `log` receives both children's stderr.
pub fn run_pair(
    peer: &Spec,
    counterpart: Option<&Spec>,
    grace: Duration,
    kill_counterpart: bool,
    log: &File,
) -> Pair {
    let mut last = None;
    for _ in 0..PORT_ATTEMPTS {
        let port = match free_port() {
            Ok(port) => port,
            Err(e) => {
                return Pair {
                    peer: failed(format!("no free port: {e}")),
                    counterpart: None,
                };
            }
        };
        let pair = attempt(peer, counterpart, port, grace, kill_counterpart, log);
        let port_in_use = pair.peer.status.and_then(|s| s.code()) == Some(3);
        if !port_in_use {
            return pair;
        }
        let _ = writeln!(&*log, "driver: port {port} was taken, trying another");
        last = Some(pair);
    }
    last.unwrap_or_else(|| Pair {
        peer: failed("no free port".into()),
        counterpart: None,
    })
}

fn failed(problem: String) -> Ended {
    Ended {
        status: None,
        json: None,
        problem,
    }
}

/// How long the output of an ended child may take to close: a grandchild
/// that inherited it could hold it open forever, and the driver must not hang.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

struct Running {
    child: Child,
    /// The child's stdout, read to its end by a thread of its own.
    stdout: Receiver<String>,
    deadline: Instant,
    ended: Option<Ended>,
}

fn spawn(spec: &Spec, port: u16, log: &File) -> Result<Running, Ended> {
    let stderr = log
        .try_clone()
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    let mut child = Command::new(&spec.program)
        .args(&spec.args)
        .args(["--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| failed(format!("cannot start {}: {e}", spec.program.display())))?;
    let (tx, stdout) = mpsc::channel();
    if let Some(mut out) = child.stdout.take() {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            let _ = tx.send(text);
        });
    }
    Ok(Running {
        child,
        stdout,
        deadline: Instant::now() + spec.timeout,
        ended: None,
    })
}

impl Running {
    /// Collects the child if it has exited; true once it has.
    fn poll(&mut self) -> bool {
        if self.ended.is_some() {
            return true;
        }
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.ended = Some(self.collect(Some(status), String::new()));
                true
            }
            Ok(None) => false,
            Err(e) => {
                self.kill(format!("cannot wait: {e}"));
                true
            }
        }
    }

    fn kill(&mut self, why: String) {
        if self.ended.is_some() {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.ended = Some(self.collect(None, why));
    }

    fn collect(&mut self, status: Option<ExitStatus>, mut problem: String) -> Ended {
        let out = self.stdout.recv_timeout(OUTPUT_GRACE).unwrap_or_default();
        let json = out.lines().rev().find_map(|line| Value::parse(line).ok());
        if problem.is_empty() {
            if let Some(status) = status.filter(|s| !s.success()) {
                problem = match json.as_ref().and_then(|j| j.str("error")) {
                    Some(error) => format!("{status}: {error}"),
                    None => format!("{status}"),
                };
            } else if json.is_none() {
                problem = "no JSON line on stdout".into();
            }
        }
        Ended {
            status,
            json,
            problem,
        }
    }
}

fn attempt(
    peer: &Spec,
    counterpart: Option<&Spec>,
    port: u16,
    grace: Duration,
    kill_counterpart: bool,
    log: &File,
) -> Pair {
    let mut p = match spawn(peer, port, log) {
        Ok(p) => p,
        Err(ended) => {
            return Pair {
                peer: ended,
                counterpart: None,
            };
        }
    };
    let mut c = match counterpart.map(|spec| spawn(spec, port, log)) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(ended)) => {
            p.kill("counterpart did not start".into());
            return Pair {
                peer: p.ended.unwrap_or(ended.clone()),
                counterpart: Some(ended),
            };
        }
    };
    loop {
        let now = Instant::now();
        let peer_done = p.poll();
        if !peer_done && now >= p.deadline {
            p.kill(format!(
                "killed after {:.0} s (timeout)",
                peer.timeout.as_secs_f64()
            ));
        }
        if let Some(c) = c.as_mut() {
            let counterpart_done = c.poll();
            if !counterpart_done {
                if p.ended.is_some() {
                    if kill_counterpart {
                        c.kill(String::new());
                        // Killed on purpose: not a problem.
                        if let Some(ended) = c.ended.as_mut() {
                            ended.problem.clear();
                        }
                    } else {
                        c.deadline = c.deadline.min(now + grace);
                    }
                }
                if c.ended.is_none() && now >= c.deadline {
                    c.kill("killed (timeout)".into());
                }
            }
        }
        if p.ended.is_some() && c.as_ref().is_none_or(|c| c.ended.is_some()) {
            break;
        }
        thread::sleep(POLL_EVERY);
    }
    Pair {
        peer: p.ended.take().unwrap_or_else(|| failed("lost".into())),
        counterpart: c.and_then(|mut c| c.ended.take()),
    }
}
