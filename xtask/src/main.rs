//! `cargo xtask`: the project's automation (set-up and tests of a fresh machine, packaging check, leak check, demo, bench, soak, mutation testing), written with std alone so that it builds before any native prerequisite is installed.
#![forbid(unsafe_code)]

mod bench;
mod cmd;
mod demo;
mod leakcheck;
mod mutants;
mod package;
mod prereq;
mod racecheck;
mod soak;
mod test;

use std::env;
use std::process::ExitCode;

/// What `cargo xtask help` prints.
const USAGE: &str = "\
usage: cargo xtask <command> [args]

commands:
  test [-- <cargo test args>]   set up a fresh machine and test it: install the missing
                                native prerequisites (as root, with apt-get), then
                                fmt --check, clippy -D warnings, test, doc, package
                                (cargo package of the library crates), the leak
                                check when valgrind is installed, and the race check
                                when a nightly toolchain with rust-src is installed
  leakcheck [-- <test args>]    run the `lifecycle` test of package `tests` under valgrind
  racecheck [-- <test args>]    run the `cross_thread` test of package `tests` built with
                                ThreadSanitizer (nightly toolchain with rust-src, added
                                with rustup when missing; std and libuv instrumented too)
  demo                          run the demo (cargo run --release -p uzmq --example demo)
  bench [options | --micro]     run the benchmarks (uzmq-bench, release build; --quick: about
                                a minute; --instructions: instructions per message under
                                callgrind; --help: every option; --micro: criterion)
  mutants [--fast] [--jobs N]   mutation testing of uzmq-core (mock excluded) with cargo-mutants
                                against the tests of package `tests` (installs cargo-mutants;
                                --fast: mock-backend tests only); known equivalents are listed
                                in xtask/mutants-equivalent.txt. Long: not part of `test`
  soak --minutes N              run a mixed workload for N minutes (uzmq-soak, release build;
                                --seconds S instead for a short run) and fail unless every
                                count check passes and RSS and open fds stay flat after the
                                warm-up; samples in target/soak/samples.csv
  help                          print this text

prerequisites (Debian packages): build-essential libclang-dev pkg-config libzmq3-dev,
iproute2 for the network fault test (as root), and valgrind for the leak check
";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (command.as_str(), rest),
        None => ("help", &[][..]),
    };
    let result = match command {
        "test" => test::run(rest),
        "leakcheck" => leakcheck::run(rest),
        "racecheck" => racecheck::run(rest),
        "demo" => demo::run(rest),
        "bench" => bench::run(rest),
        "mutants" => mutants::run(rest),
        "soak" => soak::run(rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!("{USAGE}");
            Err(format!("unknown command `{other}`"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err}");
            ExitCode::FAILURE
        }
    }
}
