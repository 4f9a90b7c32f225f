//! `raw-peer`: the raw libzmq baseline under the `uzmq-peer` contract (the
//! same as `uzmq-peer --impl raw`); see `uzmq_bench::peer::raw`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    uzmq_bench::peer::main(uzmq_bench::peer::Impl::Raw)
}
