//! Two "hosts" for the network fault tests: a pair of network namespaces joined by a veth pair, addressed from the documentation range 192.0.2.0/24, and deleted again by a `Drop` guard (stale pairs of killed runs too).
//!
//! Everything is done with the `ip` and `tc` commands of iproute2, and only
//! inside the namespaces created here: every command names one of them
//! (`ip -n NS ...`, `ip netns exec NS ...`), so nothing on the machine's own
//! network is ever touched. The veth pair is created directly inside the two
//! namespaces, so its names never exist in the root namespace and cannot
//! clash with anything there.

use std::fmt;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Every namespace made here is named `uzmq-nf-<pid>-<n>-<side>`: the pid of
/// the test process tells a live run's namespaces from a killed one's.
const PREFIX: &str = "uzmq-nf-";

/// Address of host A (the first namespace), from 192.0.2.0/24 (TEST-NET-1,
/// reserved for documentation: routed nowhere).
pub const ADDR_A: &str = "192.0.2.1";
/// Address of host B (the second namespace).
pub const ADDR_B: &str = "192.0.2.2";
/// The veth end inside namespace A.
pub const DEV_A: &str = "nf0";
/// The veth end inside namespace B.
pub const DEV_B: &str = "nf1";

static PAIRS: AtomicUsize = AtomicUsize::new(0);

/// One of the two hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// Namespace A, address [`ADDR_A`], device [`DEV_A`].
    A,
    /// Namespace B, address [`ADDR_B`], device [`DEV_B`].
    B,
}

impl Host {
    /// The host's IPv4 address.
    pub fn addr(self) -> &'static str {
        match self {
            Host::A => ADDR_A,
            Host::B => ADDR_B,
        }
    }

    /// The host's end of the veth pair.
    pub fn dev(self) -> &'static str {
        match self {
            Host::A => DEV_A,
            Host::B => DEV_B,
        }
    }
}

/// Why the two hosts could not be set up.
#[derive(Debug)]
pub enum SetupError {
    /// Not running as root: network namespaces need CAP_SYS_ADMIN.
    NotRoot,
    /// Running as root, yet a namespace or the link could not be made: no
    /// `ip` command, a container without the capability, a kernel without
    /// veth, ... (the message says which).
    Failed(String),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::NotRoot => {
                f.write_str("not running as root (network namespaces need CAP_SYS_ADMIN)")
            }
            SetupError::Failed(why) => f.write_str(why),
        }
    }
}

/// Two namespaces joined by a veth pair, both ends up and addressed.
/// Dropping it deletes both namespaces, which removes the veth pair with
/// them. Kill the processes running inside first: a namespace lives on
/// while a process is in it.
#[derive(Debug)]
pub struct TwoHosts {
    a: String,
    b: String,
}

impl TwoHosts {
    /// Creates the pair, after deleting the namespaces that killed runs of
    /// this naming scheme left behind. `tag` (a short word) goes into the
    /// names, so that a listing tells which test made them.
    pub fn create(tag: &str) -> Result<TwoHosts, SetupError> {
        if !is_root() {
            return Err(SetupError::NotRoot);
        }
        match Command::new("ip")
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::NotFound => {
                return Err(SetupError::Failed(
                    "the `ip` command (iproute2) is not installed".into(),
                ));
            }
            Err(err) => {
                return Err(SetupError::Failed(format!("cannot run `ip`: {err}")));
            }
        }
        remove_stale();

        let n = PAIRS.fetch_add(1, Ordering::Relaxed);
        let base = format!("{PREFIX}{}-{n}-{tag}", std::process::id());
        // The guard exists before the first namespace does: whatever step
        // fails below, what was made is deleted on the way out.
        let hosts = TwoHosts {
            a: format!("{base}-a"),
            b: format!("{base}-b"),
        };
        let failed = SetupError::Failed;
        ip(&["netns", "add", &hosts.a]).map_err(failed)?;
        ip(&["netns", "add", &hosts.b]).map_err(failed)?;
        ip(&[
            "link", "add", DEV_A, "netns", &hosts.a, "type", "veth", "peer", "name", DEV_B,
            "netns", &hosts.b,
        ])
        .map_err(failed)?;
        for host in [Host::A, Host::B] {
            let addr = format!("{}/24", host.addr());
            hosts
                .ip_in(host, &["addr", "add", &addr, "dev", host.dev()])
                .map_err(failed)?;
            hosts
                .ip_in(host, &["link", "set", "lo", "up"])
                .map_err(failed)?;
            hosts.set_link(host, true).map_err(failed)?;
            hosts.pin_congestion_control(host);
        }
        Ok(hosts)
    }

    /// Makes TCP in `host`'s namespace use a loss-based congestion control,
    /// CUBIC (Linux's usual default), else Reno (built in, and always among
    /// the algorithms a namespace other than the first may pick:
    /// `tcp_allowed_congestion_control`). A new namespace inherits the
    /// machine's default, and with BBR a connection that went through a
    /// throttled, lossy link kept pacing near the throttled rate for more
    /// than ten seconds after the link was free again (measured here:
    /// about 430 of the 2,000 messages per second got through), so how
    /// fast a stream recovers would depend on the machine. Best effort:
    /// where /proc/sys cannot be written the inherited default stays (see
    /// [`congestion_control`](Self::congestion_control)).
    fn pin_congestion_control(&self, host: Host) {
        for algorithm in ["cubic", "reno"] {
            let mut command = self.command(host, "sh");
            command.args([
                "-c",
                &format!("echo {algorithm} > /proc/sys/net/ipv4/tcp_congestion_control"),
            ]);
            if run(&mut command).is_ok() {
                return;
            }
        }
    }

    /// The TCP congestion control `host`'s namespace uses.
    pub fn congestion_control(&self, host: Host) -> Option<String> {
        let mut command = self.command(host, "cat");
        command.arg("/proc/sys/net/ipv4/tcp_congestion_control");
        run(&mut command).ok().map(|out| out.trim().to_owned())
    }

    /// The name of `host`'s namespace.
    pub fn netns(&self, host: Host) -> &str {
        match host {
            Host::A => &self.a,
            Host::B => &self.b,
        }
    }

    /// `program args...` to be run inside `host`'s namespace (through
    /// `ip netns exec`, which execs it: the child's pid is the program's).
    pub fn command(&self, host: Host, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", self.netns(host)])
            .arg(program);
        command
    }

    /// `ip -n NS args...`: an `ip` command inside `host`'s namespace.
    pub fn ip_in(&self, host: Host, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["-n", self.netns(host)];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Sets `host`'s veth end up or down (`ip link set DEV up|down`).
    pub fn set_link(&self, host: Host, up: bool) -> Result<(), String> {
        let state = if up { "up" } else { "down" };
        self.ip_in(host, &["link", "set", host.dev(), state])
    }

    /// `tc args...` inside `host`'s namespace; the error carries tc's
    /// message, for the caller to tell "netem unavailable" from a real
    /// failure.
    pub fn tc(&self, host: Host, args: &[&str]) -> Result<(), String> {
        self.tc_output(host, args).map(drop)
    }

    /// As [`tc`](Self::tc), returning what it printed (for `tc -s qdisc
    /// show`).
    pub fn tc_output(&self, host: Host, args: &[&str]) -> Result<String, String> {
        let mut command = self.command(host, "tc");
        command.args(args);
        run(&mut command)
    }
}

impl Drop for TwoHosts {
    fn drop(&mut self) {
        // Never panic in drop: a namespace that was not made (setup failed
        // half-way) or is already gone only makes `ip` complain.
        for netns in [&self.a, &self.b] {
            if let Err(err) = ip(&["netns", "del", netns])
                && netns_names().iter().any(|name| name == netns)
            {
                eprintln!("netns: could not delete {netns}: {err}");
            }
        }
    }
}

/// Deletes the namespaces of this naming scheme whose test process is gone
/// (a run killed before its guard could drop). Those of live processes are
/// left alone: they may be a parallel run.
fn remove_stale() {
    for name in netns_names() {
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            // A parallel run may be deleting it at the same time: ignore.
            let _ = ip(&["netns", "del", &name]);
        }
    }
}

/// The names `ip netns list` shows (`NAME` or `NAME (id: N)` per line).
fn netns_names() -> Vec<String> {
    let Ok(out) = Command::new("ip")
        .args(["netns", "list"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// `ip args...`, failing with the command line and its stderr.
fn ip(args: &[&str]) -> Result<(), String> {
    let mut command = Command::new("ip");
    command.args(args);
    run(&mut command).map(drop)
}

/// Runs `command` to completion with no stdin and returns its stdout;
/// `Err` says what ran and what it printed on stderr when it could not
/// start or failed.
fn run(command: &mut Command) -> Result<String, String> {
    let shown = format!("{command:?}").replace('"', "");
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("cannot run `{shown}`: {err}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{shown}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Whether the effective uid is 0 (the second field of `Uid:` in
/// /proc/self/status; no libc call, the crate has no unsafe code).
fn is_root() -> bool {
    fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}
