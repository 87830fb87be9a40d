//! Secrets in links: random tokens (256 bits from the OS-seeded generator) and their SHA-256
//! hashes (what a subscriber row keeps of its confirmation token, so a database leak confirms
//! nobody; the token itself waits in the confirmation outbox only until its message is sent).

/// A fresh random token: 32 bytes (256 bits) as 64 lowercase hex digits.
pub fn new_token() -> String {
    paperboy_core::secret::hex(&rand::random::<[u8; 32]>())
}

/// The SHA-256 of a token, as hex.
pub fn hash_token(token: &str) -> String {
    paperboy_core::secret::sha256_hex(token)
}

/// Whether `s` looks like a token [`new_token`] made (64 hex digits); anything else is
/// rejected before it reaches the store.
pub fn is_token(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_hex_and_never_repeat() {
        let a = new_token();
        let b = new_token();
        assert!(is_token(&a) && is_token(&b));
        assert_ne!(a, b);
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(!is_token("../../etc/passwd"));
    }
}
