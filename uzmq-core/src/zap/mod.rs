//! ZAP (ZeroMQ RFC 27) on the loop: the request parser, the rules and the
//! decision as pure functions (no I/O, total over any input), and the
//! handler that answers libzmq's requests from the loop.
//!
//! libzmq asks a ZAP handler bound at `inproc://zeromq.zap.01` of the
//! socket's context whenever a PLAIN or CURVE server, or a NULL server with
//! a ZAP domain, meets a client. The request arrives at a ROUTER as
//! `[routing id, "", "1.0", request id, domain, address, identity,
//! mechanism, credentials…]`; [`answer`] turns any such message into the
//! reply `[routing id, "", "1.0", request id, status, text, user id,
//! metadata]`: 200 for a client that passes, 400 for one that does not,
//! 500 for a request it cannot handle (wrong version, missing frames,
//! credentials that do not fit the mechanism). A message without the
//! empty delimiter frame cannot be answered in a form libzmq reads, and is
//! dropped.

mod handle;
mod request;
mod rules;
mod z85;

pub use handle::ZapHandler;
pub use request::{Credentials, Malformed, ZAP_VERSION, ZapRequest, parse_request};
pub use rules::{ANY_DOMAIN, CurveKeys, Verdict, ZapRules};
pub use z85::z85_key;

/// The endpoint libzmq sends ZAP requests to, in each context.
pub const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";

/// The verdict on one request (after the envelope): 500 when malformed,
/// else the rules' decision. Also returns the request id to echo.
pub fn verdict<F: AsRef<[u8]>>(rules: &ZapRules, request: &[F]) -> (Vec<u8>, Verdict) {
    match parse_request(request) {
        Ok(req) => {
            let verdict = rules.decide(&req);
            (req.request_id, verdict)
        }
        Err(bad) => (bad.request_id, Verdict::Error(bad.reason)),
    }
}

/// The reply frames (after the envelope) for `verdict` on `request_id`.
pub fn reply_frames(request_id: &[u8], verdict: &Verdict) -> [Vec<u8>; 6] {
    let (text, user_id): (&str, &[u8]) = match verdict {
        Verdict::Allow { user_id } => ("OK", user_id),
        Verdict::Deny(reason) | Verdict::Error(reason) => (reason, &[]),
    };
    [
        ZAP_VERSION.to_vec(),
        request_id.to_vec(),
        verdict.status().to_string().into_bytes(),
        text.as_bytes().to_vec(),
        user_id.to_vec(),
        Vec::new(),
    ]
}

/// The whole reply to one message a ROUTER received at the ZAP endpoint,
/// envelope included, or `None` when it has no `[routing id, ""]`
/// envelope to answer to.
pub fn answer<F: AsRef<[u8]>>(rules: &ZapRules, message: &[F]) -> Option<Vec<Vec<u8>>> {
    let [routing_id, delimiter, request @ ..] = message else {
        return None;
    };
    if !delimiter.as_ref().is_empty() {
        return None;
    }
    let (request_id, verdict) = verdict(rules, request);
    let mut reply = Vec::with_capacity(8);
    reply.push(routing_id.as_ref().to_vec());
    reply.push(Vec::new());
    reply.extend(reply_frames(&request_id, &verdict));
    Some(reply)
}
