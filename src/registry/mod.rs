//! Several issuing CAs behind one interface: the [`CaStore`](crate::CaStore) trait the resolver
//! mints through, the [`CaRegistry`](crate::CaRegistry) (a subset enabled, one default, rules
//! by host pattern or tenant), and the checks that make a certificate signed by the
//! organisation's CA an issuing CA ([`check_import`]).

mod import;
pub(crate) mod store;

pub use import::check_import;
pub use store::{CaHealth, CaInfo, SelectionRule, SingleCa};
