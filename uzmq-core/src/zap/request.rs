//! A ZAP request (RFC 27) read from its frames: total over any input, so
//! that a malformed request gets an error reply instead of a panic.

/// The mechanism of a request and the credentials it carries.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Credentials {
    /// `NULL`: no credentials.
    Null,
    /// `PLAIN`: a user name and a password.
    Plain {
        /// The user name, as sent.
        user: Vec<u8>,
        /// The password, as sent.
        password: Vec<u8>,
    },
    /// `CURVE`: the client's long-term public key.
    Curve {
        /// The key.
        key: [u8; 32],
    },
}

/// A well-formed ZAP request.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ZapRequest {
    /// Echoed in the reply.
    pub request_id: Vec<u8>,
    /// The server socket's `ZMQ_ZAP_DOMAIN`.
    pub domain: Vec<u8>,
    /// The client's IP address, as text (empty for transports with none).
    pub address: Vec<u8>,
    /// The server socket's routing id.
    pub identity: Vec<u8>,
    /// The mechanism and its credentials.
    pub credentials: Credentials,
}

/// Why a request cannot be decided on: it gets status 500 with this text.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Malformed {
    /// The request id, when the request had one (else empty).
    pub request_id: Vec<u8>,
    /// The status text of the reply.
    pub reason: &'static str,
}

/// The only ZAP version there is.
pub const ZAP_VERSION: &[u8] = b"1.0";

/// Reads a request from its frames (after the envelope): version, request
/// id, domain, address, identity, mechanism, then the credentials the
/// mechanism takes (none for NULL, user and password for PLAIN, one
/// 32-byte key for CURVE).
pub fn parse_request<F: AsRef<[u8]>>(frames: &[F]) -> Result<ZapRequest, Malformed> {
    let frame = |i: usize| frames.get(i).map(AsRef::as_ref);
    let request_id = frame(1).unwrap_or_default().to_vec();
    let malformed = |reason| Malformed {
        request_id: request_id.clone(),
        reason,
    };
    if frame(0) != Some(ZAP_VERSION) {
        return Err(malformed("unsupported ZAP version"));
    }
    let (Some(domain), Some(address), Some(identity), Some(mechanism)) =
        (frame(2), frame(3), frame(4), frame(5))
    else {
        return Err(malformed("malformed request: missing frames"));
    };
    let creds = &frames[6..];
    let credentials = match (mechanism, creds) {
        (b"NULL", []) => Credentials::Null,
        (b"PLAIN", [user, password]) => Credentials::Plain {
            user: user.as_ref().to_vec(),
            password: password.as_ref().to_vec(),
        },
        (b"CURVE", [key]) => match <[u8; 32]>::try_from(key.as_ref()) {
            Ok(key) => Credentials::Curve { key },
            Err(_) => return Err(malformed("malformed request: CURVE key is not 32 bytes")),
        },
        (b"NULL" | b"PLAIN" | b"CURVE", _) => {
            return Err(malformed(
                "malformed request: wrong credentials for the mechanism",
            ));
        }
        _ => return Err(malformed("unsupported mechanism")),
    };
    Ok(ZapRequest {
        request_id,
        domain: domain.to_vec(),
        address: address.to_vec(),
        identity: identity.to_vec(),
        credentials,
    })
}
