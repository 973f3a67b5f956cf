//! The signature check (`verify::StrictKey::verify_strict`, what every
//! arriving entry and every audited one goes through): on any key,
//! signature and message it gives `ed25519-dalek`'s own `verify_strict`
//! answer, on both of its paths (without and with the key's fixed-base
//! table). Half the inputs are real signatures by a key made from the
//! input, with some of their bits flipped, so the accepting side is
//! reached too.

#![no_main]

use coopledger::verify::StrictKey;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use libfuzzer_sys::fuzz_target;

/// Ours (both paths) against dalek's on one input; dalek's answer.
fn agree(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let theirs = VerifyingKey::from_bytes(key).ok().map(|k| {
        k.verify_strict(message, &Signature::from_bytes(signature))
            .is_ok()
    });
    let plain = StrictKey::new(key).map(|k| k.verify_strict(message, signature));
    let tabled = StrictKey::new(key).map(|k| k.with_table().verify_strict(message, signature));
    assert_eq!(plain, theirs, "the plain path disagrees with dalek");
    assert_eq!(tabled, theirs, "the table path disagrees with dalek");
    theirs == Some(true)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((head, message)) = rest.split_first_chunk::<96>() else {
        return;
    };
    let (a, b) = head.split_at(32);
    let a: [u8; 32] = a.try_into().expect("32 bytes");
    let b: [u8; 64] = b.try_into().expect("64 bytes");
    if mode & 1 == 0 {
        // Raw bytes: a key, a signature, a message.
        agree(&a, message, &b);
    } else {
        // A real signature by the key seeded with `a`, XORed with `b`.
        let signer = SigningKey::from_bytes(&a);
        let key = signer.verifying_key().to_bytes();
        let mut signature = signer.sign(message).to_bytes();
        for (s, m) in signature.iter_mut().zip(b) {
            *s ^= m;
        }
        let accepted = agree(&key, message, &signature);
        if b == [0; 64] {
            assert!(accepted, "a real signature was refused");
        }
    }
});
