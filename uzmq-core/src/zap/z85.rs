//! Z85 (ZeroMQ RFC 32) encoding of a CURVE public key, the text form of a
//! CURVE client's user id: pure, with no call into libzmq.

const ALPHABET: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// The Z85 text of a 32-byte key (40 characters). Z85 takes whole 4-byte
/// groups, which a key always is.
pub fn z85_key(key: &[u8; 32]) -> String {
    let mut out = String::with_capacity(40);
    for chunk in key.chunks_exact(4) {
        let mut value = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let mut digits = [0u8; 5];
        for d in digits.iter_mut().rev() {
            *d = ALPHABET[(value % 85) as usize];
            value /= 85;
        }
        out.extend(digits.iter().map(|&b| char::from(b)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of RFC 32.
    #[test]
    fn the_rfc_vector_encodes() {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&[0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]);
        assert!(z85_key(&key).starts_with("HelloWorld"));
    }
}
