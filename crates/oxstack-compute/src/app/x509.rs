//! Generated x509 key pairs (keypair `type` x509, 2.2+): an RSA key and a self-signed
//! certificate for it, as Nova's `generate_x509_cert` makes them. The DER is written here
//! (a handful of fixed structures) so no certificate library is needed.

use base64::Engine;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey};
use sha2::Digest;

/// `(private key PEM, certificate PEM)` for a new 2048-bit RSA key whose certificate names
/// `common_name`.
pub fn generate(common_name: &str) -> Result<(String, String), rsa::Error> {
    let mut rng = ssh_key::rand_core::OsRng;
    let key = RsaPrivateKey::new(&mut rng, 2048)?;
    let not_before = chrono::Utc::now();
    let not_after = not_before + chrono::Duration::days(3650);
    let serial: [u8; 8] = rand::random();

    let name = seq(&[set(&seq(&[
        tlv(0x06, &[0x55, 0x04, 0x03]),
        tlv(0x0c, common_name.as_bytes()),
    ]))]);
    let sig_alg = seq(&[
        tlv(
            0x06,
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b],
        ),
        tlv(0x05, &[]),
    ]);
    let spki = seq(&[
        seq(&[
            tlv(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            ),
            tlv(0x05, &[]),
        ]),
        bit_string(&seq(&[int(key.n()), int(key.e())])),
    ]);
    let utc = |t: chrono::DateTime<chrono::Utc>| {
        tlv(0x17, t.format("%y%m%d%H%M%SZ").to_string().as_bytes())
    };
    let tbs = seq(&[
        tlv(0xa0, &tlv(0x02, &[2])),
        int(&BigUint::from_bytes_be(&serial)),
        sig_alg.clone(),
        name.clone(),
        seq(&[utc(not_before), utc(not_after)]),
        name,
        spki,
    ]);
    // DigestInfo(SHA-256) || hash, signed with PKCS#1 v1.5 padding.
    let mut digest_info = vec![
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    digest_info.extend_from_slice(&sha2::Sha256::digest(&tbs));
    let signature = key.sign(Pkcs1v15Sign::new_unprefixed(), &digest_info)?;
    let cert = seq(&[tbs, sig_alg, bit_string(&signature)]);

    // PKCS#1 RSAPrivateKey ("traditional OpenSSL" PEM, as Nova writes it).
    let primes = key.primes();
    let (p, q) = match primes {
        [p, q, ..] => (p.clone(), q.clone()),
        _ => return Err(rsa::Error::InvalidPrime),
    };
    let one = BigUint::from(1u8);
    let d = key.d();
    let dp = d % (&p - &one);
    let dq = d % (&q - &one);
    // p is prime: q^(p-2) mod p is the inverse of q.
    let qinv = q.modpow(&(&p - BigUint::from(2u8)), &p);
    let private = seq(&[
        tlv(0x02, &[0]),
        int(key.n()),
        int(key.e()),
        int(d),
        int(&p),
        int(&q),
        int(&dp),
        int(&dq),
        int(&qinv),
    ]);
    Ok((pem("RSA PRIVATE KEY", &private), pem("CERTIFICATE", &cert)))
}

fn len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        return vec![n as u8];
    }
    let bytes: Vec<u8> = n
        .to_be_bytes()
        .iter()
        .copied()
        .skip_while(|b| *b == 0)
        .collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(len(body.len()));
    out.extend_from_slice(body);
    out
}

fn seq(items: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &items.concat())
}

fn set(item: &[u8]) -> Vec<u8> {
    tlv(0x31, item)
}

fn int(n: &BigUint) -> Vec<u8> {
    let mut b = n.to_bytes_be();
    if b.first().is_some_and(|x| x & 0x80 != 0) {
        b.insert(0, 0);
    }
    tlv(0x02, &b)
}

fn bit_string(b: &[u8]) -> Vec<u8> {
    let mut body = vec![0];
    body.extend_from_slice(b);
    tlv(0x03, &body)
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn certificate_is_well_formed_der() {
        let (key, cert) = super::generate("user").expect("generate");
        assert!(key.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----\n"));
        let body: String = cert.lines().filter(|l| !l.starts_with("-----")).collect();
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("base64");
        // SEQUENCE with a two-byte length covering the whole certificate.
        assert_eq!(der[0], 0x30);
        assert_eq!(der[1], 0x82);
        assert_eq!(
            usize::from(der[2]) * 256 + usize::from(der[3]) + 4,
            der.len()
        );
    }
}
