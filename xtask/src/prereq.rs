//! Prerequisite check: the native tools and libraries the build needs, installed with apt-get when they are missing and xtask runs as root, else named with the exact command to install them.

use std::env;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cmd::{self, Result};

/// Something the build needs from the system, and the Debian package that provides it.
struct Prereq {
    /// What it is, for messages.
    what: &'static str,
    /// Why the build needs it.
    why: &'static str,
    /// The Debian package that provides it.
    package: &'static str,
    /// Whether it is present on this machine.
    present: fn() -> bool,
}

/// Everything `cargo build` of the workspace needs beyond Rust.
const PREREQS: [Prereq; 4] = [
    Prereq {
        what: "a C compiler (cc) with the C library headers",
        why: "libuv-sys2 builds libuv from source",
        package: "build-essential",
        present: has_c_compiler,
    },
    Prereq {
        what: "libclang",
        why: "libuv-sys2 generates its bindings with bindgen",
        package: "libclang-dev",
        present: has_libclang,
    },
    Prereq {
        what: "pkg-config",
        why: "zmq-sys finds the system libzmq with it",
        package: "pkg-config",
        present: has_pkg_config,
    },
    Prereq {
        what: "libzmq with its headers (pkg-config libzmq)",
        why: "zmq 0.9.2 links the system libzmq, built with libsodium for CURVE",
        package: "libzmq3-dev",
        present: has_libzmq,
    },
];

/// The Debian package that provides valgrind, which the leak check needs.
const VALGRIND_PACKAGE: &str = "valgrind";

/// The Debian package that provides `ip` and `tc`, which the network fault
/// test (`tests/tests/network_faults.rs`) needs.
const IPROUTE2_PACKAGE: &str = "iproute2";

/// Makes sure every native prerequisite of the build is present.
///
/// Missing ones are installed with `apt-get` when xtask runs as root and
/// `apt-get` exists; otherwise this fails with the `sudo apt-get install`
/// command to run. The check is repeated after installing.
pub fn ensure() -> Result {
    let missing: Vec<&Prereq> = PREREQS.iter().filter(|p| !(p.present)()).collect();
    if missing.is_empty() {
        eprintln!("prerequisites: C compiler, libclang, pkg-config, libzmq: all present");
        return Ok(());
    }
    for prereq in &missing {
        eprintln!(
            "prerequisites: missing {} ({}; Debian package `{}`)",
            prereq.what, prereq.why, prereq.package
        );
    }
    if let Some(path) = env::var_os("LIBCLANG_PATH").filter(|_| !has_libclang()) {
        eprintln!(
            "prerequisites: note: LIBCLANG_PATH={} is set, so libclang is looked for there only",
            path.to_string_lossy()
        );
    }
    let packages: Vec<&str> = missing.iter().map(|p| p.package).collect();
    install(&packages)?;

    let still: Vec<&str> = PREREQS
        .iter()
        .filter(|p| !(p.present)())
        .map(|p| p.what)
        .collect();
    if still.is_empty() {
        eprintln!("prerequisites: all present after installing");
        Ok(())
    } else {
        Err(format!(
            "still missing after installing {}: {}",
            packages.join(" "),
            still.join(", ")
        ))
    }
}

/// Whether `valgrind` is on `PATH` (the leak check runs only then).
pub fn has_valgrind() -> bool {
    cmd::which("valgrind").is_some()
}

/// Makes sure `valgrind` is present, for an explicit `cargo xtask leakcheck`:
/// installed like the other prerequisites when allowed, else a clear error.
/// (`cargo xtask test` never installs it; it skips the leak check instead.)
pub fn ensure_valgrind() -> Result {
    if has_valgrind() {
        return Ok(());
    }
    eprintln!("prerequisites: missing valgrind (the leak check runs the tests under it)");
    install(&[VALGRIND_PACKAGE])?;
    if has_valgrind() {
        Ok(())
    } else {
        Err("valgrind is still not on PATH after installing it".into())
    }
}

/// Makes sure `ip` (iproute2) is there for the network fault test, which
/// builds two hosts from network namespaces: installed with apt-get when it
/// is missing and xtask runs as root. That test runs only as root, and
/// skips itself without `ip`, so when installing is not possible (not
/// root, no apt-get) this only says so.
pub fn ensure_iproute2() -> Result {
    if has_ip() {
        return Ok(());
    }
    if !is_root() || cmd::which("apt-get").is_none() {
        eprintln!(
            "prerequisites: no `ip` command (Debian package `{IPROUTE2_PACKAGE}`); the network fault test will be skipped"
        );
        return Ok(());
    }
    eprintln!("prerequisites: missing `ip` and `tc` (the network fault test needs them)");
    install(&[IPROUTE2_PACKAGE])?;
    if has_ip() {
        Ok(())
    } else {
        Err("`ip` is still not on PATH after installing iproute2".into())
    }
}

/// Whether `ip` (iproute2) is on `PATH`.
fn has_ip() -> bool {
    cmd::which("ip").is_some()
}

/// Makes sure the rustfmt and clippy components are there for `cargo fmt`
/// and `cargo clippy`, adding them with rustup when it is available.
pub fn ensure_components() -> Result {
    let missing: Vec<&str> = [("fmt", "rustfmt"), ("clippy", "clippy")]
        .into_iter()
        .filter(|(subcommand, _)| !cmd::succeeds(cmd::cargo().args([*subcommand, "--version"])))
        .map(|(_, component)| component)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let add = format!("rustup component add {}", missing.join(" "));
    if cmd::which("rustup").is_none() {
        return Err(format!(
            "missing Rust components {}; install them with: {add}",
            missing.join(", ")
        ));
    }
    cmd::run(
        Command::new("rustup")
            .args(["component", "add"])
            .args(&missing)
            .stdin(Stdio::null()),
    )
    .map_err(|err| format!("could not add the Rust components ({err}); try: {add}"))
}

/// Installs Debian `packages` with apt-get when running as root, else fails
/// with the command that would install them.
fn install(packages: &[&str]) -> Result {
    let list = packages.join(" ");
    let manual = format!("sudo apt-get install -y {list}");
    if !is_root() {
        return Err(format!(
            "missing prerequisites; install them (Debian/Ubuntu package names) with:\n    {manual}\nthen run the command again"
        ));
    }
    if cmd::which("apt-get").is_none() {
        return Err(format!(
            "missing prerequisites and no apt-get to install them; on Debian/Ubuntu that is:\n    {manual}\nelse install the equivalent packages of this system"
        ));
    }
    eprintln!("prerequisites: running as root, installing {list} with apt-get");
    let apt_get = |args: &[&str]| {
        let mut command = Command::new("apt-get");
        command
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(args)
            .stdin(Stdio::null());
        command
    };
    let failed = |err: String| format!("{err}\ninstalling the prerequisites failed; try: {manual}");
    cmd::run(&mut apt_get(&["update"])).map_err(failed)?;
    let mut install = apt_get(&["install", "-y"]);
    install.args(packages);
    cmd::run(&mut install).map_err(failed)
}

/// Whether the effective user is root: the effective uid of
/// `/proc/self/status`, else the output of `id -u`.
fn is_root() -> bool {
    let from_proc = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("Uid:"))?;
            // Uid: real effective saved filesystem
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        });
    from_proc.unwrap_or_else(|| {
        cmd::output(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0")
    })
}

/// A C compiler (`$CC`, else `cc`) that finds the C library headers:
/// a compiler without `libc6-dev` would fail later, inside libuv's build.
fn has_c_compiler() -> bool {
    let compiler = env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut words = compiler.split_whitespace();
    let Some(program) = words.next() else {
        return false;
    };
    if cmd::which(program).is_none() {
        return false;
    }
    let child = Command::new(program)
        .args(words)
        .args(["-x", "c", "-fsyntax-only", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    let wrote = child.stdin.take().is_some_and(|mut stdin| {
        stdin
            .write_all(b"#include <stdio.h>\nint main(void) { return 0; }\n")
            .is_ok()
    });
    let passed = child.wait().is_ok_and(|status| status.success());
    wrote && passed
}

/// A libclang shared library where clang-sys (bindgen) looks for one.
fn has_libclang() -> bool {
    if let Some(path) = env::var_os("LIBCLANG_PATH") {
        // clang-sys searches only there when the variable is set.
        let path = PathBuf::from(path);
        let is_match = |file: &Path| {
            file.is_file()
                && file
                    .file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(is_libclang_name)
        };
        return is_match(&path) || dir_has_libclang(&path);
    }
    libclang_dirs().iter().any(|dir| dir_has_libclang(dir))
}

/// The usual homes of libclang: LLVM's own directories, the multiarch and
/// plain library directories, and what `llvm-config --libdir` says.
fn libclang_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for base in ["/usr/lib", "/usr/lib64", "/usr/local/lib"] {
        let Ok(entries) = fs::read_dir(base) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("llvm") {
                dirs.push(entry.path().join("lib"));
            } else if name.ends_with("-linux-gnu") {
                dirs.push(entry.path());
            }
        }
        dirs.push(PathBuf::from(base));
    }
    dirs.push(PathBuf::from("/usr/local/lib64"));
    if let Some(libdir) = cmd::output(Command::new("llvm-config").arg("--libdir")) {
        dirs.push(PathBuf::from(libdir.trim()));
    }
    dirs
}

fn dir_has_libclang(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            entry.file_name().to_str().is_some_and(is_libclang_name) && entry.path().is_file()
        })
    })
}

/// `libclang.so`, `libclang.so.1`, `libclang-14.so`, `libclang-14.0.6.so`,
/// `libclang-14.so.1`; not `libclang-cpp.so.14` nor the static `libclang*.a`.
fn is_libclang_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("libclang") else {
        return false;
    };
    let is_version = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.');
    let tail = match rest.strip_prefix('-') {
        Some(versioned) => match versioned.find(".so") {
            Some(at) if is_version(&versioned[..at]) => &versioned[at..],
            _ => return false,
        },
        None => rest,
    };
    match tail.strip_prefix(".so") {
        Some("") => true,
        Some(suffix) => suffix.strip_prefix('.').is_some_and(is_version),
        None => false,
    }
}

fn has_pkg_config() -> bool {
    cmd::which(pkg_config()).is_some()
}

fn has_libzmq() -> bool {
    cmd::succeeds(Command::new(pkg_config()).args(["--exists", "libzmq"]))
}

/// The pkg-config the `pkg-config` crate will use: `$PKG_CONFIG`, else `pkg-config`.
fn pkg_config() -> String {
    env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libclang_names() {
        for name in [
            "libclang.so",
            "libclang.so.1",
            "libclang.so.13.0.1",
            "libclang-14.so",
            "libclang-14.so.1",
            "libclang-14.0.6.so",
        ] {
            assert!(is_libclang_name(name), "{name}");
        }
        for name in [
            "libclang-cpp.so.14",
            "libclang-cpp.so",
            "libclangAST.a",
            "libclang.a",
            "libclang.so.x",
            "libclang-.so",
            "libclangd.so",
        ] {
            assert!(!is_libclang_name(name), "{name}");
        }
    }

    #[test]
    fn root_check_agrees_with_id() {
        if let Some(uid) = cmd::output(Command::new("id").arg("-u")) {
            assert_eq!(is_root(), uid.trim() == "0");
        }
    }
}
