//! `check_import` (and `certmint ca import`): a certificate the organisation's CA signed is
//! usable only if leaves minted the way the deployment will mint them validate up to the root.

mod common;

use std::sync::Arc;

use certmint::ca::SoftwareSigner;
use certmint::keys::PrivateKey;
use certmint::registry::check_import;
use certmint::rustls::pki_types::CertificateDer;
use certmint::{ChainError, Error, IssuerError, KeyAlgorithm};
use common::*;
use rcgen::{CertifiedIssuer, KeyPair};

/// root → org CA (pathLen `org_path_len`) → proxy CA (pathLen 1, the key we import), as
/// (chain leaf-first up to the root, the proxy CA's key).
fn hierarchy(org_path_len: u8) -> (Vec<CertificateDer<'static>>, PrivateKey) {
    let root = CertifiedIssuer::self_signed(
        ca_params("import test root", None),
        KeyPair::generate().unwrap(),
    )
    .unwrap();
    let org_key = KeyPair::generate().unwrap();
    let org_params = ca_params("organisation CA", Some(org_path_len));
    let org_cert = org_params.signed_by(&org_key, &root).unwrap();
    let org = rcgen::Issuer::new(org_params, org_key);
    let proxy_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let proxy_cert = ca_params("proxy CA", Some(1))
        .signed_by(&rcgen_key_of(&proxy_key), &org)
        .unwrap();
    (
        vec![
            proxy_cert.der().clone(),
            org_cert.der().clone(),
            root.der().clone(),
        ],
        proxy_key,
    )
}

fn signer(key: &PrivateKey) -> Arc<SoftwareSigner> {
    Arc::new(SoftwareSigner::from_private_key(key).unwrap())
}

#[test]
fn rotation_is_refused_when_an_ancestor_pathlen_leaves_no_room_for_the_sub_ca() {
    // org CA pathLen 1: below it fit the proxy CA, but not the proxy CA *and* a sub-CA.
    let (chain, key) = hierarchy(1);
    // Without rotation the chain is fine.
    check_import(chain.clone(), signer(&key), false).unwrap();
    let err = check_import(chain, signer(&key), true).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Issuer(IssuerError::ChainInvalid(
                ChainError::PathLenConstraintViolated
            ))
        ),
        "{err:?}"
    );
}

#[test]
fn rotation_is_accepted_when_every_pathlen_leaves_room() {
    let (chain, key) = hierarchy(2);
    check_import(chain, signer(&key), true).unwrap();
}
