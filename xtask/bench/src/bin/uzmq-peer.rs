//! `uzmq-peer`: the measured side of each workload, through uzmq (or, with
//! `--impl raw`, plain blocking libzmq); see `uzmq_bench::peer`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    uzmq_bench::peer::main(uzmq_bench::peer::Impl::Uzmq)
}
