//! The Fernet envelope (<https://github.com/fernet/spec>): what Python's
//! `cryptography.fernet` produces and what Keystone wraps its payloads in.
//!
//! Layout of the decoded token: version byte `0x80`, 64-bit big-endian
//! timestamp (seconds), 128-bit IV, AES-128-CBC ciphertext with PKCS#7
//! padding, then an HMAC-SHA256 over everything before it. The signing key is
//! the first half of the 32-byte Fernet key, the encryption key the second.
//!
//! Written on the RustCrypto primitives rather than the `fernet` crate because
//! that crate always rejects tokens stamped more than 60 s in the future, which
//! Python's `MultiFernet.decrypt` (as Keystone calls it, without a TTL) does
//! not: a node whose clock runs behind would then refuse tokens its peers
//! issued. It also cannot tell a malformed token from one made with another key.

use aes::Aes128;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::keys::FernetKey;

/// The only Fernet version there is.
const VERSION: u8 = 0x80;
const TIMESTAMP_LEN: usize = 8;
const IV_LEN: usize = 16;
const HEADER_LEN: usize = 1 + TIMESTAMP_LEN + IV_LEN;
const MAC_LEN: usize = 32;
const BLOCK_LEN: usize = 16;

/// Why a decoded token could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Not shaped like a Fernet token at all.
    Malformed(&'static str),
    /// Shaped right, but no key's HMAC matches.
    BadSignature,
    /// The HMAC matched, yet the ciphertext does not decrypt to padded data;
    /// only a holder of the key could have made it.
    BadPadding,
}

/// The header fields of a structurally valid token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Envelope {
    /// Seconds since the Unix epoch when the token was sealed.
    pub timestamp: u64,
}

/// Checks the layout of a decoded token and returns its header.
pub(crate) fn parse(raw: &[u8]) -> Result<Envelope, OpenError> {
    // The smallest token carries one ciphertext block (an empty plaintext
    // still pads to a full block).
    if raw.len() < HEADER_LEN + BLOCK_LEN + MAC_LEN {
        return Err(OpenError::Malformed("too short"));
    }
    if raw[0] != VERSION {
        return Err(OpenError::Malformed("not Fernet version 0x80"));
    }
    if !(raw.len() - HEADER_LEN - MAC_LEN).is_multiple_of(BLOCK_LEN) {
        return Err(OpenError::Malformed("ciphertext is not whole AES blocks"));
    }
    let mut ts = [0u8; TIMESTAMP_LEN];
    ts.copy_from_slice(&raw[1..1 + TIMESTAMP_LEN]);
    Ok(Envelope {
        timestamp: u64::from_be_bytes(ts),
    })
}

fn mac(key: &FernetKey) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail for our 16 bytes.
    <Hmac<Sha256> as KeyInit>::new_from_slice(key.signing_key())
        .expect("HMAC accepts a 16-byte key")
}

/// Seals `plaintext` under `key`, stamped with `timestamp`, using `iv`.
/// Returns the raw (not yet base64-encoded) token.
pub(crate) fn seal(key: &FernetKey, timestamp: u64, iv: [u8; IV_LEN], plaintext: &[u8]) -> Vec<u8> {
    let ciphertext = cbc::Encryptor::<Aes128>::new(&(*key.encryption_key()).into(), &iv.into())
        .encrypt_padded_vec::<Pkcs7>(plaintext);
    let mut out = Vec::with_capacity(HEADER_LEN + ciphertext.len() + MAC_LEN);
    out.push(VERSION);
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&iv);
    out.extend_from_slice(&ciphertext);
    let mut m = mac(key);
    m.update(&out);
    out.extend_from_slice(&m.finalize().into_bytes());
    out
}

/// Opens a raw token with one key: verifies the HMAC (in constant time), then
/// decrypts. The token's layout must already have passed [`parse`].
pub(crate) fn open(key: &FernetKey, raw: &[u8]) -> Result<Vec<u8>, OpenError> {
    parse(raw)?;
    let (message, tag) = raw.split_at(raw.len() - MAC_LEN);
    let mut m = mac(key);
    m.update(message);
    m.verify_slice(tag).map_err(|_| OpenError::BadSignature)?;
    let mut iv = [0u8; IV_LEN];
    iv.copy_from_slice(&message[1 + TIMESTAMP_LEN..HEADER_LEN]);
    cbc::Decryptor::<Aes128>::new(&(*key.encryption_key()).into(), &iv.into())
        .decrypt_padded_vec::<Pkcs7>(&message[HEADER_LEN..])
        .map_err(|_| OpenError::BadPadding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE;

    // The "generate" vector from the Fernet spec (generate.json): fixed key,
    // time and IV give this exact token, so our envelope is byte-for-byte
    // what every Fernet implementation makes.
    const SPEC_KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
    const SPEC_TOKEN: &str = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";
    const SPEC_TIME: u64 = 499_162_800; // 1985-10-26T01:20:00-07:00

    #[test]
    fn seal_matches_spec_vector() {
        let key = FernetKey::from_base64(SPEC_KEY).expect("spec key");
        let iv: [u8; 16] = core::array::from_fn(|i| i as u8);
        let raw = seal(&key, SPEC_TIME, iv, b"hello");
        assert_eq!(URL_SAFE.encode(raw), SPEC_TOKEN);
    }

    #[test]
    fn open_spec_vector() {
        let key = FernetKey::from_base64(SPEC_KEY).expect("spec key");
        let raw = URL_SAFE.decode(SPEC_TOKEN).expect("b64");
        assert_eq!(
            parse(&raw),
            Ok(Envelope {
                timestamp: SPEC_TIME
            })
        );
        assert_eq!(open(&key, &raw).as_deref(), Ok(&b"hello"[..]));
    }

    #[test]
    fn open_rejects_every_flipped_bit_position() {
        let key = FernetKey::from_base64(SPEC_KEY).expect("spec key");
        let raw = URL_SAFE.decode(SPEC_TOKEN).expect("b64");
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            assert!(open(&key, &bad).is_err(), "byte {i} flipped still opened");
        }
    }

    #[test]
    fn parse_rejects_bad_layouts() {
        let key = FernetKey::from_base64(SPEC_KEY).expect("spec key");
        let raw = seal(&key, 1, [0; 16], b"x");
        assert!(matches!(parse(&raw[..40]), Err(OpenError::Malformed(_))));
        let mut wrong_version = raw.clone();
        wrong_version[0] = 0x81;
        assert!(matches!(
            parse(&wrong_version),
            Err(OpenError::Malformed(_))
        ));
        let mut ragged = raw.clone();
        ragged.insert(30, 0);
        assert!(matches!(parse(&ragged), Err(OpenError::Malformed(_))));
    }
}
