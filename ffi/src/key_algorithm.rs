//! The `CERTMINT_KEY_ALGORITHM_*` codes and the library's key algorithms, one table both ways.

use certmint::KeyAlgorithm;

use crate::error::{certmint_result, Failure};

/// Leaf key algorithm (`certmint_deployment_mint`, `certmint_minted_key_algorithm`): for
/// `certmint_deployment_mint`, the origin's family (or P-256 without one).
pub const CERTMINT_KEY_ALGORITHM_DEFAULT: u32 = 0;
/// ECDSA P-256.
pub const CERTMINT_KEY_ALGORITHM_P256: u32 = 1;
/// ECDSA P-384.
pub const CERTMINT_KEY_ALGORITHM_P384: u32 = 2;
/// Ed25519.
pub const CERTMINT_KEY_ALGORITHM_ED25519: u32 = 3;
/// RSA 2048.
pub const CERTMINT_KEY_ALGORITHM_RSA2048: u32 = 4;
/// RSA 3072.
pub const CERTMINT_KEY_ALGORITHM_RSA3072: u32 = 5;
/// RSA 4096.
pub const CERTMINT_KEY_ALGORITHM_RSA4096: u32 = 6;

const TABLE: [(u32, KeyAlgorithm); 6] = [
    (CERTMINT_KEY_ALGORITHM_P256, KeyAlgorithm::EcdsaP256),
    (CERTMINT_KEY_ALGORITHM_P384, KeyAlgorithm::EcdsaP384),
    (CERTMINT_KEY_ALGORITHM_ED25519, KeyAlgorithm::Ed25519),
    (CERTMINT_KEY_ALGORITHM_RSA2048, KeyAlgorithm::Rsa2048),
    (CERTMINT_KEY_ALGORITHM_RSA3072, KeyAlgorithm::Rsa3072),
    (CERTMINT_KEY_ALGORITHM_RSA4096, KeyAlgorithm::Rsa4096),
];

/// The algorithm a code names (`None` for `CERTMINT_KEY_ALGORITHM_DEFAULT`).
pub(crate) fn key_algorithm(value: u32) -> Result<Option<KeyAlgorithm>, Failure> {
    if value == CERTMINT_KEY_ALGORITHM_DEFAULT {
        return Ok(None);
    }
    TABLE
        .iter()
        .find(|(code, _)| *code == value)
        .map(|(_, algorithm)| Some(*algorithm))
        .ok_or_else(|| {
            Failure::new(
                certmint_result::CERTMINT_INVALID_PARAMETER,
                format!("unknown key algorithm {value}"),
            )
        })
}

/// The code of an algorithm (`CERTMINT_KEY_ALGORITHM_DEFAULT` for one a newer certmint adds).
pub(crate) fn key_algorithm_code(algorithm: KeyAlgorithm) -> u32 {
    TABLE
        .iter()
        .find(|(_, a)| *a == algorithm)
        .map_or(CERTMINT_KEY_ALGORITHM_DEFAULT, |(code, _)| *code)
}
