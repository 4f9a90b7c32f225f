//! `uzmq-counterpart`: the blocking connect side of each workload; see
//! `uzmq_bench::counterpart`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    uzmq_bench::counterpart::main()
}
