//! Minting: the clone rules (copied, replaced, dropped, and why, in one place), the policy that
//! shapes leaves, what a clone changed ([`Adjustments`]), and the [`Minter`](crate::Minter).
//!
//! ```
//! use std::sync::Arc;
//! use certmint::{keys::KeyPool, mint::MintPolicy, testing::ThrowawayCa, KeyAlgorithm, MintRequest, Minter};
//! let issuer = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256)?.issuer()?;
//! let minter = Minter::new(Arc::new(issuer), Arc::new(KeyPool::default()), MintPolicy::default());
//! let minted = minter.mint(&MintRequest::for_host("www.example.com"))?;
//! assert_eq!(minted.chain().len(), 2); // leaf + intermediate; never the root
//! # Ok::<(), certmint::Error>(())
//! ```

mod adjustments;
mod clone;
pub(crate) mod minter;
mod policy;

pub use adjustments::Adjustments;
pub use policy::{MintPolicy, ValidityPolicy, DEFAULT_MAX_ORIGIN_LEN, MAX_LIFETIME_DAYS};
