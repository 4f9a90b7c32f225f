//! uzmq on a loop someone else owns: a `uv_loop_t` created with libuv
//! directly, a `uv_timer_t` of our own with a C callback that writes to a
//! uzmq PUSH handle, a uzmq PULL handle reading on the same loop, all run
//! by `uv_run`. Then the `Loop` is dropped, the owner runs its loop once
//! more (uzmq's handles finish closing) and closes it.
//!
//! This is the shape of a program that already has a libuv loop (its own
//! TCP servers, signal handlers, file work) and adds zmq sockets to it.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::ptr;
use std::rc::Rc;

use uzmq::{Loop, Zmq, uv, zmq};

/// How many ticks the timer sends before it stops itself.
const TICKS: u64 = 10;

/// What the timer's C callback reaches through the handle's `data`.
struct TimerState {
    ticks: u64,
    writer: Zmq,
}

/// The timer's callback: libuv calls it from `uv_run` on this thread.
extern "C" fn on_tick(timer: *mut uv::uv_timer_t) {
    // SAFETY: `timer` is the live handle libuv calls back with; its data
    // was set to a `TimerState` that outlives the timer's activity (it is
    // freed only after the timer is closed and its close callback ran),
    // and nothing else borrows that state while this callback runs.
    let state = unsafe { &mut *uv::uv_handle_get_data(timer.cast()).cast::<TimerState>() };
    state.ticks += 1;
    if let Err(err) = state.writer.write(state.ticks.to_le_bytes().to_vec()) {
        eprintln!("tick {}: write refused: {err}", state.ticks);
    }
    if state.ticks == TICKS {
        // SAFETY: a live, initialised timer of this loop's thread.
        unsafe { uv::uv_timer_stop(timer) };
    }
}

/// The timer's close callback: records that libuv is done with it.
extern "C" fn on_timer_closed(timer: *mut uv::uv_handle_t) {
    // SAFETY: the data of a closing handle is still ours: the `Cell` the
    // owner swapped in before `uv_close`, alive until after the last run.
    let closed = unsafe { &*uv::uv_handle_get_data(timer).cast::<Cell<bool>>() };
    closed.set(true);
}

fn main() -> uzmq::Result<()> {
    // The owner's loop, in memory the owner keeps in place (boxed).
    let mut raw_loop = Box::new(MaybeUninit::<uv::uv_loop_t>::uninit());
    let raw = raw_loop.as_mut_ptr();
    // SAFETY: writable memory of the size and alignment of a `uv_loop_t`
    // that does not move until it is freed, after `uv_loop_close`.
    let rc = unsafe { uv::uv_loop_init(raw) };
    assert_eq!(rc, 0, "uv_loop_init");

    // uzmq on it.
    // SAFETY: `raw` is an initialised loop of the libuv uzmq links
    // (`uzmq::uv`), used on this thread only, and it outlives `lp` and
    // its handles: it is closed below, after they are dropped and the loop
    // ran once more.
    let lp = unsafe { Loop::from_raw(raw) }?;
    let ctx = zmq::Context::new();
    let reader = Zmq::new(&lp, ctx.socket(zmq::PULL)?)?;
    reader.socket().bind("inproc://raw-loop-example")?;
    let writer = Zmq::new(&lp, ctx.socket(zmq::PUSH)?)?;
    writer.socket().connect("inproc://raw-loop-example")?;
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    reader.start_read(move |h, msg| match msg {
        Ok(msg) => {
            let tick = u64::from_le_bytes((&msg[0][..]).try_into().expect("8 bytes"));
            println!("PULL got tick {tick}");
            g.borrow_mut().push(tick);
            if tick == TICKS {
                h.close();
            }
        }
        Err(err) => {
            eprintln!("read failed: {err}");
            h.close();
        }
    })?;

    // The owner's timer, plain libuv: every 5 ms a tick goes to the PUSH.
    let mut state = Box::new(TimerState { ticks: 0, writer });
    let mut timer = Box::new(MaybeUninit::<uv::uv_timer_t>::uninit());
    let timer_ptr = timer.as_mut_ptr();
    // SAFETY: `raw` is initialised; `timer_ptr` is writable memory for a
    // `uv_timer_t` that stays in place until its close callback ran.
    let rc = unsafe { uv::uv_timer_init(raw, timer_ptr) };
    assert_eq!(rc, 0, "uv_timer_init");
    // SAFETY: an initialised handle; the state outlives the timer's
    // activity (see `on_tick`).
    unsafe { uv::uv_handle_set_data(timer_ptr.cast(), ptr::from_mut(&mut *state).cast()) };
    // SAFETY: an initialised timer of this loop, with its callback.
    let rc = unsafe { uv::uv_timer_start(timer_ptr, Some(on_tick), 5, 5) };
    assert_eq!(rc, 0, "uv_timer_start");

    // The owner runs its loop; uzmq's handles run with it. It returns
    // once the timer stopped itself, the reader closed and the writer's
    // queue is empty.
    // SAFETY: an initialised loop, run on its thread, not from a callback.
    unsafe { uv::uv_run(raw, uv::uv_run_mode_UV_RUN_DEFAULT) };
    assert_eq!(*got.borrow(), (1..=TICKS).collect::<Vec<_>>());
    println!("uv_run returned: {TICKS} ticks went from the libuv timer through PUSH to PULL");

    // The owner closes its own timer; uzmq never touches it.
    let timer_closed = Cell::new(false);
    // SAFETY: an initialised, stopped timer not yet closing; its data now
    // points to `timer_closed`, alive until after the run below.
    unsafe {
        uv::uv_handle_set_data(
            timer_ptr.cast(),
            ptr::from_ref(&timer_closed) as *mut c_void,
        );
        uv::uv_close(timer_ptr.cast(), Some(on_timer_closed));
    }
    // Dropping uzmq's last references closes its handles, not the loop.
    drop((state, reader, lp));
    // SAFETY: as above. One more run completes every close (the timer's
    // and uzmq's), after which nothing is left on the loop.
    unsafe { uv::uv_run(raw, uv::uv_run_mode_UV_RUN_DEFAULT) };
    assert!(timer_closed.get(), "the timer's close callback ran");
    // SAFETY: an initialised loop with no handle left on it.
    let rc = unsafe { uv::uv_loop_close(raw) };
    assert_eq!(rc, 0, "uv_loop_close: every handle is closed");
    println!("uv_loop_close returned 0: uzmq left nothing behind on the loop");
    // The timer's memory and the loop's are freed only now.
    drop((timer, raw_loop));
    Ok(())
}
