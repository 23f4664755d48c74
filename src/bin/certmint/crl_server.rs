//! The proxy's CRL endpoint (`[crl] listen`, `--crl-listen`): `GET /{key id}.crl` answers the
//! current CRL (DER) of each configured CA and recorded sub-CA, and `POST` (any path) is an
//! OCSP responder for the recorded sub-CAs (RFC 6960, pre-signed responses), on hyper
//! (HTTP/1.1).
//!
//! CRLs are signed ahead, never per request (an HSM is not asked to sign for a client): each
//! CA's CRL is re-signed every 12 hours (it lives 24), and within 5 seconds of a revocation
//! recorded by any process. Headers: `Content-Type: application/pkix-crl`, `Last-Modified`
//! (thisUpdate), `ETag`, `Cache-Control: max-age` up to nextUpdate. Bounds: 256 connections,
//! request heads of 8 KiB, 10 s to send one, 200 requests a second (then 503).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use certmint::ca::Issuer;
use certmint::revocation::{OcspResponder, RevocationStore, CRL_LIFETIME, MAX_OCSP_REQUEST};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;

use crate::error::CliError;
use crate::hex;
use crate::http::status;

/// Requests answered per second, all clients together; more get 503 with `Retry-After: 1`.
/// CRLs are cached by clients until nextUpdate and OCSP answers come from memory, so a
/// legitimate load is far below this.
const MAX_REQUESTS_PER_SECOND: u64 = 200;
/// How often the record is checked for new sub-CAs and revocations.
const CHECK_EVERY: Duration = Duration::from_secs(5);

/// One CRL as served.
struct Published {
    der: Bytes,
    etag: String,
    last_modified: String,
    expires: SystemTime,
}

/// The CRLs by file name (`{key id}.crl`), refreshed in the background.
pub(crate) struct CrlServer {
    store: Arc<RevocationStore>,
    issuers: Vec<Arc<Issuer>>,
    published: RwLock<HashMap<String, Arc<Published>>>,
    ocsp: RwLock<Arc<OcspResponder>>,
    /// The current second (since the epoch) and the requests answered in it, packed as
    /// `second << 20 | count`.
    rate: std::sync::atomic::AtomicU64,
}

impl CrlServer {
    /// Signs every CA's CRL now; an error (a token that cannot sign) stops the proxy's start.
    pub(crate) fn new(
        store: Arc<RevocationStore>,
        issuers: Vec<Arc<Issuer>>,
    ) -> Result<Arc<Self>, CliError> {
        let server = Arc::new(Self {
            store,
            issuers,
            published: RwLock::new(HashMap::new()),
            ocsp: RwLock::new(Arc::new(OcspResponder::default())),
            rate: std::sync::atomic::AtomicU64::new(0),
        });
        server.refresh()?;
        Ok(server)
    }

    /// Re-signs each CA's CRL and reloads the stored sub-CA CRLs.
    fn refresh(&self) -> Result<(), certmint::Error> {
        let mut fresh = HashMap::new();
        let now = SystemTime::now();
        for issuer in &self.issuers {
            let crl = self.store.crl_for(issuer)?;
            let secs = |t: certmint::rustls::pki_types::UnixTime| {
                SystemTime::UNIX_EPOCH + Duration::from_secs(t.as_secs())
            };
            fresh.insert(
                format!("{}.crl", hex(issuer.key_id())),
                published(crl.der(), secs(crl.this_update()), secs(crl.next_update())),
            );
        }
        let ends: HashMap<String, SystemTime> = self
            .store
            .sub_cas()?
            .into_iter()
            .map(|r| {
                let end = SystemTime::UNIX_EPOCH + Duration::from_secs(r.not_after.as_secs());
                (r.key_id, end)
            })
            .collect();
        for (key_id, der) in self.store.sub_ca_crls()? {
            let expires = ends.get(&key_id).copied().unwrap_or(now + CRL_LIFETIME);
            fresh.insert(format!("{key_id}.crl"), published(&der, now, expires));
        }
        let mut ocsp = OcspResponder::default();
        for issuer in &self.issuers {
            ocsp.merge(self.store.ocsp_responder(issuer)?);
        }
        *self.published.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        *self.ocsp.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ocsp);
        Ok(())
    }

    /// What the record holds now, cheaply: sub-CAs and revocations on file.
    fn record_state(&self) -> Option<(usize, usize)> {
        let count = |sub: &str| {
            std::fs::read_dir(self.store.dir().join(sub))
                .ok()
                .map(|d| d.count())
        };
        Some((count("sub-cas")?, count("revoked")?))
    }

    /// Keeps the CRLs fresh: re-signed after half their lifetime, and at once when a sub-CA
    /// or a revocation is recorded.
    async fn keep_fresh(self: Arc<Self>) {
        let mut seen = self.record_state();
        let mut signed_at = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(CHECK_EVERY).await;
            let now = self.record_state();
            if now == seen && signed_at.elapsed() < CRL_LIFETIME / 2 {
                continue;
            }
            let server = Arc::clone(&self);
            match tokio::task::spawn_blocking(move || server.refresh()).await {
                Ok(Ok(())) => {
                    seen = now;
                    signed_at = tokio::time::Instant::now();
                    log::info!("CRLs re-signed");
                }
                Ok(Err(e)) => log::error!("re-signing the CRLs failed: {e}; retrying"),
                Err(e) => log::error!("re-signing the CRLs failed: {e}"),
            }
        }
    }

    /// Whether one more request fits in this second's budget.
    fn admit(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let second = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut admitted = false;
        let _ = self.rate.fetch_update(Relaxed, Relaxed, |packed| {
            let (at, count) = (packed >> 20, packed & 0xf_ffff);
            let count = if at == second { count } else { 0 };
            admitted = count < MAX_REQUESTS_PER_SECOND;
            admitted.then_some(second << 20 | (count + 1))
        });
        admitted
    }

    /// An OCSP request (POST body, at most [`MAX_OCSP_REQUEST`] bytes).
    async fn answer_ocsp(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        use http_body_util::BodyExt as _;
        let body = http_body_util::Limited::new(request.into_body(), MAX_OCSP_REQUEST);
        let der = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            // Oversized or broken: OCSP's own malformedRequest.
            Err(_) => Bytes::from_static(&[]),
        };
        let responder = Arc::clone(&*self.ocsp.read().unwrap_or_else(|e| e.into_inner()));
        Response::builder()
            .header(hyper::header::CONTENT_TYPE, "application/ocsp-response")
            .body(Full::new(Bytes::from(responder.respond(&der))))
            .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR))
    }

    fn answer(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        let head = request.method() == Method::HEAD;
        if request.method() != Method::GET && !head {
            return status(StatusCode::METHOD_NOT_ALLOWED);
        }
        let name = request.uri().path().trim_start_matches('/');
        let valid = name.strip_suffix(".crl").is_some_and(|id| {
            !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_hexdigit())
        });
        if !valid {
            return status(if name.len() > 256 {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::NOT_FOUND
            });
        }
        let found = self
            .published
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&name.to_ascii_lowercase())
            .cloned();
        let Some(crl) = found else {
            return status(StatusCode::NOT_FOUND);
        };
        let matches = request
            .headers()
            .get(hyper::header::IF_NONE_MATCH)
            .is_some_and(|v| v.as_bytes() == crl.etag.as_bytes());
        let max_age = crl
            .expires
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .as_secs();
        let builder = Response::builder()
            .header(hyper::header::CONTENT_TYPE, "application/pkix-crl")
            .header(hyper::header::ETAG, &crl.etag)
            .header(hyper::header::LAST_MODIFIED, &crl.last_modified)
            .header(
                hyper::header::CACHE_CONTROL,
                format!("public, max-age={max_age}"),
            );
        let response = if matches {
            builder
                .status(StatusCode::NOT_MODIFIED)
                .body(Full::new(Bytes::new()))
        } else if head {
            builder
                .header(hyper::header::CONTENT_LENGTH, crl.der.len())
                .body(Full::new(Bytes::new()))
        } else {
            builder.body(Full::new(crl.der.clone()))
        };
        response.unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR))
    }
}

fn published(der: &[u8], this_update: SystemTime, expires: SystemTime) -> Arc<Published> {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    Arc::new(Published {
        der: Bytes::copy_from_slice(der),
        etag: format!("\"{}\"", hex(&digest.as_ref()[..16])),
        last_modified: httpdate::fmt_http_date(this_update),
        expires,
    })
}

/// Serves the CRLs on `listener` until the task is dropped.
pub(crate) async fn serve(server: Arc<CrlServer>, listener: TcpListener) {
    tokio::spawn(Arc::clone(&server).keep_fresh());
    crate::http::serve(listener, move |request: Request<Incoming>| {
        let server = Arc::clone(&server);
        async move {
            if !server.admit() {
                let mut busy = status(StatusCode::SERVICE_UNAVAILABLE);
                busy.headers_mut().insert(
                    hyper::header::RETRY_AFTER,
                    hyper::header::HeaderValue::from_static("1"),
                );
                busy
            } else if request.method() == Method::POST {
                server.answer_ocsp(request).await
            } else {
                server.answer(&request)
            }
        }
    })
    .await;
}
