//! A [`Signer`] whose key lives in a PKCS#11 token (an HSM, or SoftHSM2 in tests).
//!
//! - Keys are named by RFC 7512 URIs ([`Pkcs11Uri`]); the PIN comes from the URI
//!   (`pin-value`, `pin-source=file:...`) or `CERTMINT_PKCS11_PIN`.
//! - Each module is loaded and initialised once per process; the signer logs in once and keeps
//!   a small pool of sessions (a `Session` is `Send` but not `Sync`), so concurrent signatures
//!   do not queue on one lock. The key handle is found once and cached.
//! - ECDSA is `CKM_ECDSA` over a digest computed here (SHA-256 for P-256, SHA-384 for P-384),
//!   the raw r‖s converted to DER; RSA is `CKM_SHA256_RSA_PKCS`.
//! - When the token invalidates the sessions (fail-over, `C_CloseAllSessions`, a logout), the
//!   next signature re-opens a session, logs in again and retries once. Every signature is
//!   verified against the public key before it is returned: never an unsigned or wrongly
//!   signed certificate. A wrong PIN is reported, never retried (tokens lock after a few).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use rustls::pki_types::SubjectPublicKeyInfoDer;

use super::{SignatureAlgorithm, Signer, SignerCounters};
use crate::crypto::backend;
use crate::error::{Error, OtherError, Pkcs11Error};
use crate::keys::Secret;
use crate::x509::tlv::{self, BIT_STRING, NULL, OCTET_STRING, OID, SEQUENCE};
use crate::x509::{hex, oid, KeyAlgorithm};

/// The environment variable holding the PIN when the URI gives none.
pub const PIN_ENV: &str = "CERTMINT_PKCS11_PIN";

/// The default module when a URI names none: SoftHSM2 as Debian installs it.
pub const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A parsed `pkcs11:` URI (RFC 7512), values percent-decoded.
///
/// ```
/// # #[cfg(feature = "pkcs11")] {
/// use certmint::ca::Pkcs11Uri;
/// let uri = Pkcs11Uri::parse(
///     "pkcs11:token=CA%20token;object=issuing;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234",
/// ).unwrap();
/// assert_eq!(uri.token.as_deref(), Some("CA token"));
/// assert_eq!(uri.object.as_deref(), Some("issuing"));
/// # }
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Pkcs11Uri {
    /// Token label.
    pub token: Option<String>,
    /// Token serial number.
    pub serial: Option<String>,
    /// Object label.
    pub object: Option<String>,
    /// Object id (CKA_ID).
    pub id: Option<Vec<u8>>,
    /// Slot id.
    pub slot_id: Option<u64>,
    /// The module to load.
    pub module_path: Option<PathBuf>,
    /// The PIN, when given inline.
    pub pin_value: Option<Secret>,
    /// A file holding the PIN (`pin-source=file:/path` or a plain path).
    pub pin_source: Option<PathBuf>,
}

impl std::fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Uri")
            .field("token", &self.token)
            .field("object", &self.object)
            .field("id", &self.id)
            .field("module_path", &self.module_path)
            .field("pin_value", &self.pin_value.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

fn percent_decode(s: &str) -> Result<Vec<u8>, Pkcs11Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or(Pkcs11Error::BadUri("truncated %-escape"))?;
            let text = std::str::from_utf8(hex).map_err(|_| Pkcs11Error::BadUri("bad %-escape"))?;
            out.push(
                u8::from_str_radix(text, 16).map_err(|_| Pkcs11Error::BadUri("bad %-escape"))?,
            );
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn decode_text(s: &str) -> Result<String, Pkcs11Error> {
    String::from_utf8(percent_decode(s)?).map_err(|_| Pkcs11Error::BadUri("value is not UTF-8"))
}

impl Pkcs11Uri {
    /// Whether `s` is a PKCS#11 URI rather than a file name.
    pub fn is_uri(s: &str) -> bool {
        super::is_pkcs11_uri(s)
    }

    /// Parses a URI. Unknown attributes are ignored, as RFC 7512 allows.
    pub fn parse(uri: &str) -> Result<Self, Pkcs11Error> {
        let rest = uri
            .get(7..)
            .filter(|_| super::is_pkcs11_uri(uri))
            .ok_or(Pkcs11Error::BadUri("does not start with pkcs11:"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut out = Self::default();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or(Pkcs11Error::BadUri("a path attribute without '='"))?;
            match k {
                "token" => out.token = Some(decode_text(v)?),
                "serial" => out.serial = Some(decode_text(v)?),
                "object" => out.object = Some(decode_text(v)?),
                "id" => out.id = Some(percent_decode(v)?),
                "slot-id" => {
                    out.slot_id = Some(
                        decode_text(v)?
                            .parse()
                            .map_err(|_| Pkcs11Error::BadUri("slot-id is not a number"))?,
                    )
                }
                "type" if decode_text(v)? != "private" => {
                    return Err(Pkcs11Error::BadUri("a signing key must be type=private"));
                }
                _ => {}
            }
        }
        for attr in query.split('&').filter(|a| !a.is_empty()) {
            let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
            match k.to_ascii_lowercase().as_str() {
                "module-path" => out.module_path = Some(PathBuf::from(decode_text(v)?)),
                "pin-value" => {
                    // `redact_pins` ends a value at these: a PIN holding one raw would be
                    // printed in part. RFC 7512 wants them %-encoded anyway (but "'").
                    if v.contains(['"', '\'', '#', ';']) || v.contains(char::is_whitespace) {
                        return Err(Pkcs11Error::BadUri(
                            "pin-value holds a quote, '#', ';' or whitespace: %-encode it",
                        ));
                    }
                    out.pin_value = Some(Secret::from(percent_decode(v)?));
                }
                "pin-source" => {
                    let source = decode_text(v)?;
                    out.pin_source = Some(PathBuf::from(
                        source.strip_prefix("file:").unwrap_or(&source),
                    ));
                }
                _ => {}
            }
        }
        if out.token.is_none() && out.serial.is_none() && out.slot_id.is_none() {
            return Err(Pkcs11Error::BadUri(
                "names no token (token=, serial= or slot-id=)",
            ));
        }
        if out.object.is_none() && out.id.is_none() {
            return Err(Pkcs11Error::BadUri("names no key (object= or id=)"));
        }
        Ok(out)
    }

    /// The PIN: `pin-value`, else the file named by `pin-source` (one trailing newline
    /// stripped), else `CERTMINT_PKCS11_PIN`.
    pub fn pin(&self) -> Result<Secret, Pkcs11Error> {
        if let Some(pin) = &self.pin_value {
            return Ok(pin.clone());
        }
        if let Some(path) = &self.pin_source {
            let mut bytes =
                Zeroizing::new(std::fs::read(path).map_err(|e| Pkcs11Error::PinSource {
                    path: path.clone(),
                    kind: e.kind(),
                })?);
            if bytes.ends_with(b"\n") {
                bytes.pop();
            }
            return Ok(Secret::from(bytes.to_vec()));
        }
        std::env::var_os(PIN_ENV)
            .map(|v| Secret::from(v.into_encoded_bytes()))
            .ok_or(Pkcs11Error::NoPin)
    }

    fn module(&self) -> &Path {
        self.module_path
            .as_deref()
            .unwrap_or(Path::new(DEFAULT_MODULE))
    }

    fn key_template(&self, class: ObjectClass) -> Vec<Attribute> {
        let mut t = vec![Attribute::Class(class)];
        if let Some(label) = &self.object {
            t.push(Attribute::Label(label.as_bytes().to_vec()));
        }
        if let Some(id) = &self.id {
            t.push(Attribute::Id(id.clone()));
        }
        t
    }
}

/// Loaded modules, one context each per process (a second `C_Initialize` fails).
fn context(module: &Path) -> Result<Arc<Pkcs11>, Pkcs11Error> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Arc<Pkcs11>>>> = OnceLock::new();
    let mut modules = MODULES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(ctx) = modules.get(module) {
        return Ok(Arc::clone(ctx));
    }
    let load_error = |e: CkError| Pkcs11Error::ModuleLoad {
        path: module.to_owned(),
        source: OtherError::new(e),
    };
    let ctx = Pkcs11::new(module).map_err(load_error)?;
    initialize(&ctx).map_err(load_error)?;
    let ctx = Arc::new(ctx);
    modules.insert(module.to_owned(), Arc::clone(&ctx));
    Ok(ctx)
}

/// Initialises the module unless it is already: `Ok(true)` when this call initialised it.
fn initialize(ctx: &Pkcs11) -> Result<bool, CkError> {
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) => Ok(true),
        Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(false),
        Err(e) => Err(e),
    }
}

fn device(e: CkError) -> Pkcs11Error {
    Pkcs11Error::Device(OtherError::new(e))
}

fn find_slot(ctx: &Pkcs11, uri: &Pkcs11Uri) -> Result<Slot, Pkcs11Error> {
    // A token that cannot be read now (SoftHSM2 answers CKR_GENERAL_ERROR for a token another
    // process is writing) is skipped; its error is reported if no other token matches.
    let mut unreadable = None;
    for slot in ctx.get_slots_with_initialized_token().map_err(device)? {
        if uri.slot_id.is_some_and(|id| slot.id() != id) {
            continue;
        }
        let info = match ctx.get_token_info(slot) {
            Ok(info) => info,
            Err(e) => {
                unreadable.get_or_insert(e);
                continue;
            }
        };
        let label_ok = uri.token.as_deref().is_none_or(|t| info.label() == t);
        let serial_ok = uri
            .serial
            .as_deref()
            .is_none_or(|s| info.serial_number() == s);
        if label_ok && serial_ok {
            return Ok(slot);
        }
    }
    if let Some(e) = unreadable {
        return Err(device(e));
    }
    Err(Pkcs11Error::TokenNotFound {
        token: uri.token.clone().or(uri.serial.clone()).unwrap_or_default(),
    })
}

/// The module, the token's slot, the PIN and a logged-in session for `uri`.
fn connect(uri: &Pkcs11Uri) -> Result<(Arc<Pkcs11>, Slot, AuthPin, Session), Error> {
    let ctx = context(uri.module())?;
    let slot = find_slot(&ctx, uri)?;
    let pin = uri.pin()?;
    let pin = AuthPin::from(
        String::from_utf8(pin.as_bytes().to_vec()).map_err(|_| Pkcs11Error::WrongPin)?,
    );
    let session = open_session(&ctx, slot, &pin)?;
    Ok((ctx, slot, pin, session))
}

/// A logged-in session on `slot`.
fn open_session(ctx: &Pkcs11, slot: Slot, pin: &AuthPin) -> Result<Session, Pkcs11Error> {
    let session = ctx.open_rw_session(slot).map_err(device)?;
    match session.login(UserType::User, Some(pin)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
        Err(CkError::Pkcs11(
            RvError::PinIncorrect | RvError::PinLenRange | RvError::PinInvalid,
            _,
        )) => Err(Pkcs11Error::WrongPin),
        Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(Pkcs11Error::PinLocked),
        Err(e) => Err(device(e)),
    }
}

/// The shortest time between two module resets by one signer.
const RESET_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether an error means the token itself failed: worth a module reset before the retry.
fn token_failed(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::GeneralError
                | RvError::DeviceError
                | RvError::DeviceMemory
                | RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::TokenNotRecognized,
            _
        )
    )
}

/// Whether an error means the session (or login) is gone and a fresh one may succeed.
fn session_lost(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::UserNotLoggedIn
                | RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::ObjectHandleInvalid
                | RvError::KeyHandleInvalid
                | RvError::DeviceError
                | RvError::CryptokiNotInitialized,
            _
        )
    )
}

/// A CA key in a PKCS#11 token.
pub struct Pkcs11Signer {
    ctx: Arc<Pkcs11>,
    /// Found again (by the URI's token label, serial or slot id) after a module reset.
    slot: Mutex<Slot>,
    /// When the module was last finalised and initialised again by this signer.
    last_reset: Mutex<Option<std::time::Instant>>,
    uri: Pkcs11Uri,
    pin: AuthPin,
    key_algorithm: KeyAlgorithm,
    algorithm: SignatureAlgorithm,
    spki: Vec<u8>,
    /// Idle sessions, each logged in.
    sessions: Mutex<Vec<Session>>,
    key: Mutex<Option<ObjectHandle>>,
    reconnects: std::sync::atomic::AtomicU64,
    signatures: std::sync::atomic::AtomicU64,
    sign_errors: std::sync::atomic::AtomicU64,
}

impl Pkcs11Signer {
    /// Opens the key named by `uri`: loads the module (once per process), finds the token, logs
    /// in, finds the private key and reads its public half.
    pub fn open(uri: &Pkcs11Uri) -> Result<Self, Error> {
        let (ctx, slot, pin, session) = connect(uri)?;
        Self::from_session(uri, ctx, slot, pin, session)
    }

    /// Finds the private key named by `uri` through a logged-in `session` and reads its public
    /// half; the session becomes the first of the pool.
    fn from_session(
        uri: &Pkcs11Uri,
        ctx: Arc<Pkcs11>,
        slot: Slot,
        pin: AuthPin,
        session: Session,
    ) -> Result<Self, Error> {
        let key = exactly_one(
            session
                .find_objects(&uri.key_template(ObjectClass::PRIVATE_KEY))
                .map_err(device)?,
            uri,
        )?;
        let (key_algorithm, spki) = read_public_key(&session, uri, key)?;
        Ok(Self {
            ctx,
            slot: Mutex::new(slot),
            last_reset: Mutex::new(None),
            uri: uri.clone(),
            pin,
            key_algorithm,
            algorithm: SignatureAlgorithm::for_key(key_algorithm),
            spki,
            sessions: Mutex::new(vec![session]),
            key: Mutex::new(Some(key)),
            reconnects: Default::default(),
            signatures: Default::default(),
            sign_errors: Default::default(),
        })
    }

    /// Generates a key pair inside the token (private half sensitive and not extractable),
    /// labelled and identified as `uri` says, and opens it.
    ///
    /// A label or id that any object in the token already has is refused
    /// ([`Pkcs11Error::KeyExists`]): a second key under one name would make the first CA's key
    /// ambiguous. Both halves get one `CKA_ID` (the URI's, else 16 random bytes), which is how
    /// the public half is found. The private half can only sign: `CKA_DECRYPT`, `CKA_UNWRAP`
    /// and `CKA_DERIVE` are false.
    pub fn generate(uri: &Pkcs11Uri, algorithm: KeyAlgorithm) -> Result<Self, Error> {
        let (ctx, slot, pin, session) = connect(uri)?;
        let mut taken = Vec::new();
        if let Some(label) = &uri.object {
            taken.push(vec![Attribute::Label(label.as_bytes().to_vec())]);
        }
        if let Some(id) = &uri.id {
            taken.push(vec![Attribute::Id(id.clone())]);
        }
        for template in &taken {
            if !session.find_objects(template).map_err(device)?.is_empty() {
                return Err(Pkcs11Error::KeyExists {
                    object: uri_object_name(uri),
                }
                .into());
            }
        }
        let id = match &uri.id {
            Some(id) => id.clone(),
            None => {
                let mut id = vec![0u8; 16];
                crate::crypto::fill_random(&mut id).map_err(|_| Pkcs11Error::UnsupportedKey)?;
                id
            }
        };
        let mut common = vec![Attribute::Id(id)];
        if let Some(label) = &uri.object {
            common.push(Attribute::Label(label.as_bytes().to_vec()));
        }
        let mut public = vec![Attribute::Token(true), Attribute::Verify(true)];
        let mut private = vec![
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
        ];
        public.extend(common.iter().cloned());
        private.extend(common);
        let mechanism = match algorithm {
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => {
                let curve = if algorithm == KeyAlgorithm::EcdsaP256 {
                    oid::SECP256R1
                } else {
                    oid::SECP384R1
                };
                public.push(Attribute::EcParams(tlv::tlv(OID, curve.as_bytes())));
                Mechanism::EccKeyPairGen
            }
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                let bits = match algorithm {
                    KeyAlgorithm::Rsa2048 => 2048u64,
                    KeyAlgorithm::Rsa3072 => 3072,
                    _ => 4096,
                };
                public.push(Attribute::ModulusBits(bits.into()));
                public.push(Attribute::PublicExponent(vec![1, 0, 1]));
                Mechanism::RsaPkcsKeyPairGen
            }
            _ => return Err(Pkcs11Error::UnsupportedKey.into()),
        };
        session
            .generate_key_pair(&mechanism, &public, &private)
            .map_err(device)?;
        Self::from_session(uri, ctx, slot, pin, session)
    }

    /// The key's algorithm.
    pub fn key_algorithm(&self) -> KeyAlgorithm {
        self.key_algorithm
    }

    /// The slot the token sits in.
    pub fn slot_id(&self) -> u64 {
        self.slot().id()
    }

    /// How often the signer found its sessions gone and opened (and logged in) afresh.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sessions idle in the pool now.
    pub fn idle_sessions(&self) -> usize {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    fn restore_after_fork(&self) {
        // The parent's sessions belong to the parent: forget them without closing them (a
        // close could reach the parent's HSM connection).
        let stale = std::mem::take(&mut *self.sessions.lock().unwrap_or_else(|e| e.into_inner()));
        std::mem::forget(stale);
        *self.key.lock().unwrap_or_else(|e| e.into_inner()) = None;
        // PKCS#11 asks a child to call C_Initialize; a module that kept its state across the
        // fork (SoftHSM2 without reset_on_fork) answers "already initialised", which is fine.
        if let Err(e) = initialize(&self.ctx) {
            log::error!("PKCS#11: initialising the module after fork failed: {e}");
        }
    }

    /// Runs `op` on a pooled session with the key handle. If the token lost the session or
    /// the login, or the module was finalised under us (another library in the process called
    /// `C_Finalize`), initialises the module again if needed, opens a fresh session (logging
    /// in again) and retries once.
    fn with_session<T>(
        &self,
        op: impl Fn(&Session, ObjectHandle) -> Result<T, CkError>,
    ) -> Result<T, Error> {
        for attempt in 0..2 {
            let pooled = self
                .sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop();
            let session = match pooled {
                Some(s) => s,
                None => match open_session(&self.ctx, self.slot(), &self.pin) {
                    Ok(s) => s,
                    // A PIN problem is not retried: a second failed login brings a lockout
                    // closer.
                    Err(Pkcs11Error::Device(e)) if attempt == 0 => {
                        self.recover(&e.to_string(), true);
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            let key = self.key_handle(&session);
            let result = key.and_then(|key| op(&session, key).map_err(|e| (e, true)));
            match result {
                Ok(value) => {
                    self.sessions
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(session);
                    return Ok(value);
                }
                Err((e, _)) if attempt == 0 && (session_lost(&e) || token_failed(&e)) => {
                    // Closed (or its close refused) before the module is initialised again,
                    // when its handle could name someone else's new session.
                    drop(session);
                    self.recover(&e.to_string(), token_failed(&e));
                }
                Err((e, _)) => return Err(device(e).into()),
            }
        }
        Err(Pkcs11Error::Device(OtherError::msg(
            "the token kept failing after a fresh session",
        ))
        .into())
    }

    fn slot(&self) -> Slot {
        *self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After a lost session, login or module: forgets every pooled session (each is suspect)
    /// and the key handle, and initialises the module again if it was finalised. When the
    /// token itself failed (`reset`), the module is finalised and initialised again (at most
    /// once every [`RESET_INTERVAL`]), which makes it look for its tokens afresh (SoftHSM2
    /// keeps failing logins after its token directory went away and came back until then),
    /// and the token's slot is found again by the URI.
    fn recover(&self, why: &str, reset: bool) {
        log::warn!("PKCS#11: {why}; re-opening a session and logging in again");
        self.reconnects
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Closing a session that is gone, or one of a finalised module, fails harmlessly; it
        // must happen before the module is initialised again and hands out new handles.
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        *self.key.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if reset && self.reset_due() {
            log::warn!("PKCS#11: the token failed; finalising and initialising the module again");
            // Other signers on the same module see their sessions gone and recover as well.
            let _ = Pkcs11::clone(&self.ctx).finalize();
        }
        match initialize(&self.ctx) {
            Ok(true) => log::warn!("PKCS#11: the module is initialised again"),
            Ok(false) => {}
            Err(e) => log::error!("PKCS#11: initialising the module again failed: {e}"),
        }
        if reset {
            match find_slot(&self.ctx, &self.uri) {
                Ok(slot) => *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = slot,
                Err(e) => log::warn!("PKCS#11: the token is not back yet: {e}"),
            }
        }
    }

    /// Whether a module reset may run now (and if so, records it).
    fn reset_due(&self) -> bool {
        let mut last = self.last_reset.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < RESET_INTERVAL) {
            return false;
        }
        *last = Some(now);
        true
    }

    fn key_handle(&self, session: &Session) -> Result<ObjectHandle, (CkError, bool)> {
        let mut cached = self.key.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = *cached {
            return Ok(key);
        }
        let found = session
            .find_objects(&self.uri.key_template(ObjectClass::PRIVATE_KEY))
            .map_err(|e| (e, true))?;
        // Exactly one key, as when the signer was opened; anything else is not retried.
        let [key] = found[..] else {
            return Err((
                CkError::Pkcs11(
                    RvError::KeyHandleInvalid,
                    cryptoki::context::Function::FindObjects,
                ),
                false,
            ));
        };
        *cached = Some(key);
        Ok(key)
    }

    /// Checks a signature against the public key before it leaves this signer.
    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        if self.algorithm.verify(&self.spki, message, signature) {
            Ok(())
        } else {
            Err(Pkcs11Error::BadSignature.into())
        }
    }
}

impl Signer for Pkcs11Signer {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    fn subject_public_key_info(&self) -> SubjectPublicKeyInfoDer<'_> {
        SubjectPublicKeyInfoDer::from(&self.spki[..])
    }

    fn after_fork_child(&self) {
        self.restore_after_fork();
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        use std::sync::atomic::Ordering::Relaxed;
        let signed = self.sign_on_token(message);
        match &signed {
            Ok(_) => self.signatures.fetch_add(1, Relaxed),
            Err(_) => self.sign_errors.fetch_add(1, Relaxed),
        };
        signed
    }

    fn counters(&self) -> Option<SignerCounters> {
        use std::sync::atomic::Ordering::Relaxed;
        Some(SignerCounters {
            signatures: self.signatures.load(Relaxed),
            errors: self.sign_errors.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
        })
    }
}

impl Pkcs11Signer {
    /// One signature from the token, checked against the public key before it is returned.
    fn sign_on_token(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let signature = match self.algorithm {
            SignatureAlgorithm::EcdsaP256Sha256 | SignatureAlgorithm::EcdsaP384Sha384 => {
                let (alg, half) = if self.algorithm == SignatureAlgorithm::EcdsaP256Sha256 {
                    (&backend::digest::SHA256, 32)
                } else {
                    (&backend::digest::SHA384, 48)
                };
                let digest = backend::digest::digest(alg, message);
                let raw =
                    self.with_session(|s, key| s.sign(&Mechanism::Ecdsa, key, digest.as_ref()))?;
                if raw.len() != 2 * half {
                    return Err(Pkcs11Error::BadSignature.into());
                }
                let (r, s) = raw.split_at(half);
                let mut body = tlv::unsigned_integer(r);
                body.extend(tlv::unsigned_integer(s));
                tlv::tlv(SEQUENCE, &body)
            }
            SignatureAlgorithm::RsaPkcs1Sha256 => {
                self.with_session(|s, key| s.sign(&Mechanism::Sha256RsaPkcs, key, message))?
            }
            SignatureAlgorithm::RsaPkcs1Sha384 => {
                self.with_session(|s, key| s.sign(&Mechanism::Sha384RsaPkcs, key, message))?
            }
            SignatureAlgorithm::RsaPkcs1Sha512 => {
                self.with_session(|s, key| s.sign(&Mechanism::Sha512RsaPkcs, key, message))?
            }
            SignatureAlgorithm::Ed25519 => return Err(Pkcs11Error::UnsupportedKey.into()),
        };
        self.verify(message, &signature)?;
        Ok(signature)
    }
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("uri", &self.uri)
            .field("key_algorithm", &self.key_algorithm)
            .finish_non_exhaustive()
    }
}

/// The name a URI gives its key, for errors.
fn uri_object_name(uri: &Pkcs11Uri) -> String {
    uri.object
        .clone()
        .unwrap_or_else(|| hex(uri.id.as_deref().unwrap_or(&[])))
}

/// The one object found, or why there is not exactly one.
fn exactly_one(found: Vec<ObjectHandle>, uri: &Pkcs11Uri) -> Result<ObjectHandle, Pkcs11Error> {
    match found[..] {
        [one] => Ok(one),
        [] => Err(Pkcs11Error::KeyNotFound {
            object: uri_object_name(uri),
        }),
        _ => Err(Pkcs11Error::AmbiguousKey {
            object: uri_object_name(uri),
            count: found.len(),
        }),
    }
}

/// The public key of `private` as a SubjectPublicKeyInfo: EC from the matching public-key
/// object's CKA_EC_PARAMS/CKA_EC_POINT; RSA from CKA_MODULUS/CKA_PUBLIC_EXPONENT.
fn read_public_key(
    session: &Session,
    uri: &Pkcs11Uri,
    private: ObjectHandle,
) -> Result<(KeyAlgorithm, Vec<u8>), Error> {
    let attrs = session
        .get_attributes(private, &[AttributeType::KeyType])
        .map_err(device)?;
    let key_type = attrs.iter().find_map(|a| match a {
        Attribute::KeyType(t) => Some(*t),
        _ => None,
    });
    let spki = if key_type == Some(KeyType::RSA) {
        let attrs = session
            .get_attributes(
                private,
                &[AttributeType::Modulus, AttributeType::PublicExponent],
            )
            .map_err(device)?;
        let (mut n, mut e) = (None, None);
        for a in attrs {
            match a {
                Attribute::Modulus(v) => n = Some(v),
                Attribute::PublicExponent(v) => e = Some(v),
                _ => {}
            }
        }
        let (n, e) = n.zip(e).ok_or(Pkcs11Error::UnsupportedKey)?;
        let mut rsa_key = tlv::unsigned_integer(&n);
        rsa_key.extend(tlv::unsigned_integer(&e));
        let mut alg = tlv::tlv(OID, oid::RSA_ENCRYPTION.as_bytes());
        tlv::write_tlv(&mut alg, NULL, &[]);
        spki(&tlv::tlv(SEQUENCE, &alg), &tlv::tlv(SEQUENCE, &rsa_key))
    } else if key_type == Some(KeyType::EC) {
        // The public half shares the private half's CKA_ID; keys without one (made by other
        // tools) are paired by the URI, and either way exactly one must match.
        let id = session
            .get_attributes(private, &[AttributeType::Id])
            .map_err(device)?
            .into_iter()
            .find_map(|a| match a {
                Attribute::Id(id) if !id.is_empty() => Some(id),
                _ => None,
            });
        let template = match id {
            Some(id) => vec![Attribute::Class(ObjectClass::PUBLIC_KEY), Attribute::Id(id)],
            None => uri.key_template(ObjectClass::PUBLIC_KEY),
        };
        let public = exactly_one(session.find_objects(&template).map_err(device)?, uri)?;
        let attrs = session
            .get_attributes(public, &[AttributeType::EcParams, AttributeType::EcPoint])
            .map_err(device)?;
        let (mut params, mut point) = (None, None);
        for a in attrs {
            match a {
                Attribute::EcParams(v) => params = Some(v),
                Attribute::EcPoint(v) => point = Some(v),
                _ => {}
            }
        }
        let (params, point) = params.zip(point).ok_or(Pkcs11Error::UnsupportedKey)?;
        // CKA_EC_POINT is a DER OCTET STRING around the point (some tokens omit the wrapper).
        let point = match tlv::single(&point) {
            Ok(t) if t.tag == OCTET_STRING => t.content.to_vec(),
            _ => point,
        };
        let mut alg = tlv::tlv(OID, oid::EC_PUBLIC_KEY.as_bytes());
        alg.extend_from_slice(&params);
        spki(&tlv::tlv(SEQUENCE, &alg), &point)
    } else {
        return Err(Pkcs11Error::UnsupportedKey.into());
    };
    let algorithm = KeyAlgorithm::from_spki(&spki).ok_or(Pkcs11Error::UnsupportedKey)?;
    Ok((algorithm, spki))
}

fn spki(algorithm: &[u8], public_key: &[u8]) -> Vec<u8> {
    let mut bits = vec![0u8];
    bits.extend_from_slice(public_key);
    let mut body = algorithm.to_vec();
    tlv::write_tlv(&mut body, BIT_STRING, &bits);
    tlv::tlv(SEQUENCE, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_parsed_and_decoded() {
        let uri = Pkcs11Uri::parse(
            "pkcs11:token=my%20token;object=ca;type=private;id=%01%02?module-path=/lib/x.so&pin-source=file:/run/pin",
        )
        .unwrap();
        assert_eq!(uri.token.as_deref(), Some("my token"));
        assert_eq!(uri.id.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(uri.module_path.as_deref(), Some(Path::new("/lib/x.so")));
        assert_eq!(uri.pin_source.as_deref(), Some(Path::new("/run/pin")));
        assert!(format!("{uri:?}").contains("my token"));
        // Found by the pkcs11_uri fuzz target: `redact_pins` stopped at the '#', printing the
        // rest of this PIN. Such PINs must be %-encoded, and then redact whole.
        for raw in ["#-secret-pin", "a\"b", "a'b", "a;b", "a b"] {
            let uri = format!("pkcs11:token=t;object=o?pin-value={raw}");
            assert!(Pkcs11Uri::parse(&uri).is_err(), "{uri}");
        }
        let encoded = "pkcs11:token=t;object=o?pin-value=%23-secret-pin";
        let parsed = Pkcs11Uri::parse(encoded).unwrap();
        assert_eq!(parsed.pin_value.unwrap().as_bytes(), b"#-secret-pin");
        assert!(!super::super::redact_pins(encoded).contains("secret-pin"));
        let with_pin = Pkcs11Uri::parse("pkcs11:token=t;object=o?pin-value=1234").unwrap();
        assert!(
            !format!("{with_pin:?}").contains("1234"),
            "the PIN is never printed"
        );
        assert_eq!(with_pin.pin().unwrap().as_bytes(), b"1234");
        // Found by the pkcs11_uri fuzz target (a finding of its own check, not of the parser):
        // a token label holding the PIN's characters is printed as the label, the PIN is not.
        let label = Pkcs11Uri::parse(
            "pkcs11:token=My%2e=a-long-test-pin-&120Tooen;id=%01%02%03?pin-value=a-long-test-pin-&1234",
        )
        .unwrap();
        assert_eq!(
            label.token.as_deref(),
            Some("My.=a-long-test-pin-&120Tooen")
        );
        assert_eq!(label.pin().unwrap().as_bytes(), b"a-long-test-pin-");
        assert_eq!(format!("{label:?}").matches("a-long-test-pin-").count(), 1);
    }

    #[test]
    fn bad_uris_are_refused() {
        for bad in [
            "file:/x",
            "pkcs11:object=o",
            "pkcs11:token=t",
            "pkcs11:token=t;object=o;type=public",
            "pkcs11:token=%zz;object=o",
            "pkcs11:token=t;object=o;slot-id=x",
            "pkcs11:token",
        ] {
            assert!(
                matches!(Pkcs11Uri::parse(bad), Err(Pkcs11Error::BadUri(_))),
                "{bad}"
            );
        }
    }
}
