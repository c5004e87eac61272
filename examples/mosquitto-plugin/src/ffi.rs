//! The C ABI between mosquitto 2.0 and this plugin: the only module with `unsafe`.
//!
//! Declarations match mosquitto 2.0.11 (Debian bookworm `mosquitto-dev`):
//! `/usr/include/mosquitto_plugin.h` (`struct mosquitto_opt`, the `mosquitto_plugin_*`
//! entry points, `MOSQ_PLUGIN_VERSION` 5), `/usr/include/mosquitto_broker.h`
//! (`enum mosquitto_plugin_event`, `struct mosquitto_evt_acl_check`,
//! `MOSQ_FUNC_generic_callback`, `mosquitto_callback_register`, `mosquitto_client_id`, ...)
//! and `/usr/include/mosquitto.h` (`MOSQ_ERR_*`, `MOSQ_LOG_*`). The broker functions are not
//! linked: they are undefined symbols of the `.so`, resolved from the `mosquitto` executable
//! when it loads the plugin.
//!
//! Every entry point runs its body under `catch_unwind`: a panic in the ACL callback denies,
//! a panic in init refuses to start. Decisions are made by the safe [`crate::authorize::authorize`].

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::marker::{PhantomData, PhantomPinned};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::authorize::{AclRequest, Verdict};
use crate::options::parse_options;
use crate::plugin::{Disconnect, Level, LogLine, Plugin};

/// `MOSQ_PLUGIN_VERSION` of mosquitto 2.0.
const PLUGIN_API_VERSION: c_int = 5;
/// `MOSQ_ERR_SUCCESS` (mosquitto.h, `enum mosq_err_t`).
const MOSQ_ERR_SUCCESS: c_int = 0;
/// `MOSQ_ERR_INVAL`.
const MOSQ_ERR_INVAL: c_int = 3;
/// `MOSQ_ERR_ACL_DENIED`.
const MOSQ_ERR_ACL_DENIED: c_int = 12;
/// `MOSQ_ERR_UNKNOWN`.
const MOSQ_ERR_UNKNOWN: c_int = 13;
/// `MOSQ_EVT_RELOAD` (mosquitto_broker.h, `enum mosquitto_plugin_event`): SIGHUP.
const MOSQ_EVT_RELOAD: c_int = 1;
/// `MOSQ_EVT_ACL_CHECK`.
const MOSQ_EVT_ACL_CHECK: c_int = 2;
/// `MOSQ_EVT_TICK`: once per pass of the broker's main loop.
const MOSQ_EVT_TICK: c_int = 9;
/// `MOSQ_LOG_INFO` (mosquitto.h).
const MOSQ_LOG_INFO: c_int = 1 << 0;
/// `MOSQ_LOG_NOTICE`.
const MOSQ_LOG_NOTICE: c_int = 1 << 1;
/// `MOSQ_LOG_WARNING`.
const MOSQ_LOG_WARNING: c_int = 1 << 2;
/// `MOSQ_LOG_ERR`.
const MOSQ_LOG_ERR: c_int = 1 << 3;

/// `struct mosquitto`: opaque.
#[repr(C)]
pub struct Mosquitto {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// `mosquitto_plugin_id_t`: opaque.
#[repr(C)]
pub struct MosquittoPluginId {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// `struct mosquitto_opt { char *key; char *value; }`.
#[repr(C)]
pub struct MosquittoOpt {
    key: *mut c_char,
    value: *mut c_char,
}

/// `struct mosquitto_evt_acl_check` of mosquitto 2.0.11:
///
/// ```c
/// struct mosquitto_evt_acl_check {
///     void *future;
///     struct mosquitto *client;
///     const char *topic;
///     const void *payload;
///     mosquitto_property *properties;
///     int access;
///     uint32_t payloadlen;
///     uint8_t qos;
///     bool retain;
///     void *future2[4];
/// };
/// ```
///
/// `retain` is a C `bool` (one byte); it is read as `u8` so that no byte value can be UB.
#[repr(C)]
struct MosquittoEvtAclCheck {
    future: *mut c_void,
    client: *mut Mosquitto,
    topic: *const c_char,
    payload: *const c_void,
    properties: *mut c_void,
    access: c_int,
    payloadlen: u32,
    qos: u8,
    retain: u8,
    future2: [*mut c_void; 4],
}

/// `typedef int (*MOSQ_FUNC_generic_callback)(int, void *, void *);`
type GenericCallback = unsafe extern "C" fn(c_int, *mut c_void, *mut c_void) -> c_int;

// SAFETY: these signatures are copied from mosquitto_broker.h (2.0.11); the symbols are
// exported by the mosquitto executable that loads this library.
unsafe extern "C" {
    fn mosquitto_callback_register(
        identifier: *mut MosquittoPluginId,
        event: c_int,
        cb_func: GenericCallback,
        event_data: *const c_void,
        userdata: *mut c_void,
    ) -> c_int;
    fn mosquitto_callback_unregister(
        identifier: *mut MosquittoPluginId,
        event: c_int,
        cb_func: GenericCallback,
        event_data: *const c_void,
    ) -> c_int;
    fn mosquitto_log_printf(level: c_int, fmt: *const c_char, ...);
    fn mosquitto_client_id(client: *const Mosquitto) -> *const c_char;
    fn mosquitto_client_username(client: *const Mosquitto) -> *const c_char;
    fn mosquitto_kick_client_by_clientid(clientid: *const c_char, with_will: bool) -> c_int;
    fn mosquitto_kick_client_by_username(username: *const c_char, with_will: bool) -> c_int;
    fn mosquitto_broker_publish_copy(
        clientid: *const c_char,
        topic: *const c_char,
        payloadlen: c_int,
        payload: *const c_void,
        qos: c_int,
        retain: bool,
        properties: *mut c_void,
    ) -> c_int;
}

/// What `userdata` points to between init and cleanup.
struct State {
    identifier: *mut MosquittoPluginId,
    plugin: Plugin,
    /// The callbacks registered in init (cleanup unregisters exactly these).
    callbacks: &'static [(c_int, GenericCallback)],
}

/// Logs `message` through the broker's logger. The text is always an argument of a constant
/// `"%s"` format, never the format itself.
fn log(level: c_int, message: &str) {
    let text = CString::new(message.replace('\0', "\\0"))
        .unwrap_or_else(|_| CString::from(c"iotsec-mqtt-acl: (unprintable log message)"));
    // SAFETY: the format is a NUL-terminated "%s" with exactly one matching argument, a valid
    // NUL-terminated string that outlives the call.
    unsafe { mosquitto_log_printf(level, c"%s".as_ptr(), text.as_ptr()) }
}

/// The bytes of a C string, or `None` for a null pointer.
///
/// # Safety
/// `ptr` is null or points to a NUL-terminated string that stays valid for `'a`.
unsafe fn c_bytes<'a>(ptr: *const c_char) -> Option<&'a [u8]> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null, and the caller guarantees NUL termination and lifetime.
    Some(unsafe { CStr::from_ptr(ptr) }.to_bytes())
}

/// Picks plugin API version 5 from the versions the broker offers; -1 (refuse) otherwise.
///
/// # Safety
/// `supported_versions` points to `supported_version_count` ints (or is null).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mosquitto_plugin_version(
    supported_version_count: c_int,
    supported_versions: *const c_int,
) -> c_int {
    let offered = catch_unwind(|| {
        let Ok(count) = usize::try_from(supported_version_count) else {
            return false;
        };
        if supported_versions.is_null() || count == 0 {
            return false;
        }
        // SAFETY: mosquitto passes an array of `supported_version_count` ints
        // (plugin.c, `plugin__load_v5`); non-null and count > 0 checked above.
        let versions = unsafe { std::slice::from_raw_parts(supported_versions, count) };
        versions.contains(&PLUGIN_API_VERSION)
    });
    if offered.unwrap_or(false) {
        PLUGIN_API_VERSION
    } else {
        log(
            MOSQ_LOG_ERR,
            "iotsec-mqtt-acl: the broker does not offer plugin API version 5 (mosquitto 2.0 required)",
        );
        -1
    }
}

/// Reads the options, loads the policy, registers the ACL callback. Any failure returns an
/// error, so the broker refuses to start (fail closed).
///
/// # Safety
/// Called by mosquitto with its plugin identifier, a writable `userdata` slot and
/// `option_count` options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mosquitto_plugin_init(
    identifier: *mut MosquittoPluginId,
    userdata: *mut *mut c_void,
    options: *mut MosquittoOpt,
    option_count: c_int,
) -> c_int {
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the pointers come from mosquitto as documented above.
        unsafe { init(identifier, userdata, options, option_count) }
    }));
    match result {
        Ok(Ok(())) => MOSQ_ERR_SUCCESS,
        Ok(Err(message)) => {
            log(
                MOSQ_LOG_ERR,
                &format!("iotsec-mqtt-acl: refusing to start: {message}"),
            );
            MOSQ_ERR_INVAL
        }
        Err(_) => {
            log(
                MOSQ_LOG_ERR,
                "iotsec-mqtt-acl: refusing to start: internal error (panic) during init",
            );
            MOSQ_ERR_UNKNOWN
        }
    }
}

/// The body of [`mosquitto_plugin_init`].
///
/// # Safety
/// As for [`mosquitto_plugin_init`].
unsafe fn init(
    identifier: *mut MosquittoPluginId,
    userdata: *mut *mut c_void,
    options: *mut MosquittoOpt,
    option_count: c_int,
) -> Result<(), String> {
    if identifier.is_null() || userdata.is_null() {
        return Err("null plugin identifier or userdata".into());
    }
    let count = usize::try_from(option_count).map_err(|_| "negative option count")?;
    let raw: &[MosquittoOpt] = if count == 0 || options.is_null() {
        &[]
    } else {
        // SAFETY: mosquitto passes an array of `option_count` options (security.c).
        unsafe { std::slice::from_raw_parts(options, count) }
    };
    let mut pairs = Vec::with_capacity(raw.len());
    for opt in raw {
        // SAFETY: key and value are NUL-terminated strings owned by the broker's config,
        // valid for the whole call (or null, which is refused below).
        let (key, value) = unsafe { (c_bytes(opt.key), c_bytes(opt.value)) };
        let (Some(key), Some(value)) = (key, value) else {
            return Err("an option without key or value".into());
        };
        let key = std::str::from_utf8(key).map_err(|_| "an option key is not UTF-8")?;
        let value = std::str::from_utf8(value)
            .map_err(|_| format!("the value of plugin_opt_{key} is not UTF-8"))?;
        pairs.push((key, value));
    }
    let options = parse_options(pairs)?;
    let plugin = Plugin::load(&options)?;
    log(
        MOSQ_LOG_INFO,
        &format!(
            "iotsec-mqtt-acl: policy {} loaded ({} rules, subscribe mode {:?}, posture feed {}, deny stream {}, watch {})",
            options.policy.display(),
            plugin.rule_count(),
            plugin.mode(),
            match (&options.posture, plugin.posture_entries()) {
                (Some(p), Some(n)) => format!("{} with {n} entries", p.display()),
                _ => "none".into(),
            },
            options
                .deny_stream
                .as_ref()
                .map_or("off", |d| d.topic.as_str()),
            options.watch,
        ),
    );
    // The tick runs on every pass of the broker's loop: registered only when it has work.
    let callbacks = if options.watch {
        CALLBACKS_WATCHING
    } else {
        CALLBACKS
    };
    let state = Box::into_raw(Box::new(State {
        identifier,
        plugin,
        callbacks,
    }));
    let mut registered: Vec<(c_int, GenericCallback)> = Vec::with_capacity(callbacks.len());
    for &(event, callback) in callbacks {
        // SAFETY: `identifier` is the broker's id for this plugin; each callback has the
        // generic callback signature; `state` stays valid until cleanup unregisters them all
        // and frees it.
        let rc = unsafe {
            mosquitto_callback_register(identifier, event, callback, std::ptr::null(), state.cast())
        };
        if rc != MOSQ_ERR_SUCCESS {
            for (event, callback) in registered {
                // SAFETY: registered above with the same identifier and callback.
                let _ = unsafe {
                    mosquitto_callback_unregister(identifier, event, callback, std::ptr::null())
                };
            }
            // SAFETY: `state` came from Box::into_raw above and no callback refers to it now.
            drop(unsafe { Box::from_raw(state) });
            return Err(format!(
                "mosquitto_callback_register(event {event}) returned {rc}"
            ));
        }
        registered.push((event, callback));
    }
    // SAFETY: `userdata` is non-null (checked) and points to the broker's slot for it.
    unsafe { *userdata = state.cast() };
    Ok(())
}

/// The events this plugin handles and their callbacks.
const CALLBACKS: &[(c_int, GenericCallback)] = &[
    (MOSQ_EVT_ACL_CHECK, on_acl_check),
    (MOSQ_EVT_RELOAD, on_reload),
];

/// [`CALLBACKS`] and the tick that watches the files (`plugin_opt_watch`, the default).
const CALLBACKS_WATCHING: &[(c_int, GenericCallback)] = &[
    (MOSQ_EVT_ACL_CHECK, on_acl_check),
    (MOSQ_EVT_RELOAD, on_reload),
    (MOSQ_EVT_TICK, on_tick),
];

/// Writes reload log lines.
fn log_lines(lines: Vec<LogLine>) {
    for (level, line) in lines {
        let level = match level {
            Level::Info => MOSQ_LOG_INFO,
            Level::Warning => MOSQ_LOG_WARNING,
        };
        log(level, &line);
    }
}

/// Closes the sessions of the identities the posture feed just marked revoked (without their
/// wills: a revoked device's will would be denied anyway). A null id or username would mean
/// "every client" to mosquitto, so only non-empty names that make a C string are passed.
fn disconnect_revoked(plugin: &Plugin) {
    for target in plugin.take_disconnects() {
        let (name, kind) = match &target {
            Disconnect::ClientId(id) => (id, "client id"),
            Disconnect::Username(name) => (name, "username"),
        };
        let Ok(c_name) = CString::new(name.as_str()) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        // SAFETY: `c_name` is a non-null NUL-terminated string that outlives the call; the
        // broker looks the client up and disconnects it, or returns MOSQ_ERR_NOT_FOUND.
        let rc = unsafe {
            match target {
                Disconnect::ClientId(_) => {
                    mosquitto_kick_client_by_clientid(c_name.as_ptr(), false)
                }
                Disconnect::Username(_) => {
                    mosquitto_kick_client_by_username(c_name.as_ptr(), false)
                }
            }
        };
        if rc == MOSQ_ERR_SUCCESS {
            log(
                MOSQ_LOG_NOTICE,
                &format!("iotsec-mqtt-acl: disconnected revoked {kind} {name:?}"),
            );
        }
    }
}

/// `MOSQ_EVT_RELOAD` (SIGHUP): re-reads the policy and the posture feed; a file that does not
/// load keeps the previous one (WARNING). Always `MOSQ_ERR_SUCCESS`: a broker that already
/// serves a fleet keeps serving it with the rules it had.
unsafe extern "C" fn on_reload(
    event: c_int,
    _event_data: *mut c_void,
    userdata: *mut c_void,
) -> c_int {
    let result = catch_unwind(AssertUnwindSafe(|| {
        if event != MOSQ_EVT_RELOAD || userdata.is_null() {
            return;
        }
        // SAFETY: non-null; the `State` from init, alive until cleanup unregisters this callback.
        let state = unsafe { &*userdata.cast::<State>() };
        log_lines(state.plugin.reload());
        disconnect_revoked(&state.plugin);
    }));
    if result.is_err() {
        log(
            MOSQ_LOG_WARNING,
            "iotsec-mqtt-acl: internal error (panic) during reload; the previous policy stays in force",
        );
    }
    MOSQ_ERR_SUCCESS
}

/// `MOSQ_EVT_TICK`: looks for changed policy / posture files (at most once per second).
/// Revoked sessions are closed only after a reload, the one thing that queues them.
unsafe extern "C" fn on_tick(
    event: c_int,
    _event_data: *mut c_void,
    userdata: *mut c_void,
) -> c_int {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if event != MOSQ_EVT_TICK || userdata.is_null() {
            return;
        }
        // SAFETY: non-null; the `State` from init, alive until cleanup unregisters this callback.
        let state = unsafe { &*userdata.cast::<State>() };
        if !state.plugin.tick() {
            return;
        }
        let lines = state.plugin.watch(std::time::Instant::now());
        if !lines.is_empty() {
            log_lines(lines);
            disconnect_revoked(&state.plugin);
        }
    }));
    MOSQ_ERR_SUCCESS
}

/// Unregisters the callback and frees the state.
///
/// # Safety
/// `userdata` is what [`mosquitto_plugin_init`] stored (or null).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mosquitto_plugin_cleanup(
    userdata: *mut c_void,
    _options: *mut MosquittoOpt,
    _option_count: c_int,
) -> c_int {
    let result = catch_unwind(AssertUnwindSafe(|| {
        if userdata.is_null() {
            return;
        }
        let state = userdata.cast::<State>();
        // SAFETY: `state` is the Box::into_raw pointer from init; mosquitto calls cleanup once.
        let (identifier, timing, callbacks) = unsafe {
            (
                (*state).identifier,
                (*state).plugin.timing_summary(),
                (*state).callbacks,
            )
        };
        if let Some(line) = timing {
            log(MOSQ_LOG_NOTICE, &line);
        }
        for &(event, callback) in callbacks {
            // SAFETY: same identifier and callbacks as registered in init. The result is
            // ignored: NOT_FOUND only means the broker already dropped the registration.
            let _ = unsafe {
                mosquitto_callback_unregister(identifier, event, callback, std::ptr::null())
            };
        }
        // SAFETY: unregistered, so no callback can see the state any more; freed once.
        drop(unsafe { Box::from_raw(state) });
    }));
    match result {
        Ok(()) => MOSQ_ERR_SUCCESS,
        Err(_) => MOSQ_ERR_UNKNOWN,
    }
}

/// The `MOSQ_EVT_ACL_CHECK` callback: `MOSQ_ERR_SUCCESS` or `MOSQ_ERR_ACL_DENIED`, never
/// anything else (other codes make mosquitto disconnect the client or treat it as an error).
unsafe extern "C" fn on_acl_check(
    event: c_int,
    event_data: *mut c_void,
    userdata: *mut c_void,
) -> c_int {
    // The clock is read only when checks are timed (`plugin_opt_check_timing`).
    let timed = if userdata.is_null() {
        None
    } else {
        // SAFETY: non-null; the `State` from init, alive until cleanup unregisters this callback.
        let plugin = unsafe { &(*userdata.cast::<State>()).plugin };
        plugin.timing().then(|| (plugin, std::time::Instant::now()))
    };
    // Only the return code crosses the unwind boundary (not the verdict, whose move is a copy
    // of the denial's fields on every check).
    let rc = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the pointers are the ones mosquitto passes to an ACL_CHECK callback.
        match unsafe { acl_check(event, event_data, userdata) } {
            Verdict::Allow => MOSQ_ERR_SUCCESS,
            Verdict::Deny(denial) => {
                log(MOSQ_LOG_NOTICE, &denial.line);
                MOSQ_ERR_ACL_DENIED
            }
        }
    }));
    if let Some((plugin, start)) = timed {
        plugin.record_check(start.elapsed());
    }
    rc.unwrap_or_else(|_| {
        log(
            MOSQ_LOG_NOTICE,
            "iotsec-mqtt-acl: DENY: internal error (panic) in the ACL check",
        );
        MOSQ_ERR_ACL_DENIED
    })
}

/// Publishes a denial on the deny stream (if configured and the rate limit admits it).
/// `mosquitto_broker_publish_copy` queues the message; it does not re-enter the ACL check.
fn publish_denial(plugin: &Plugin, request: &AclRequest<'_>, denial: &crate::Denial) {
    let Some((topic, payload)) = plugin.deny_event(request, denial, std::time::Instant::now())
    else {
        return;
    };
    let (Ok(topic), Ok(len)) = (CString::new(topic), c_int::try_from(payload.len())) else {
        return;
    };
    // SAFETY: null client id = to every subscriber; `topic` is NUL-terminated; `payload` is
    // `len` readable bytes, copied by the broker; QoS 0, not retained, no properties.
    let rc = unsafe {
        mosquitto_broker_publish_copy(
            std::ptr::null(),
            topic.as_ptr(),
            len,
            payload.as_ptr().cast(),
            0,
            false,
            std::ptr::null_mut(),
        )
    };
    if rc != MOSQ_ERR_SUCCESS {
        log(
            MOSQ_LOG_WARNING,
            &format!("iotsec-mqtt-acl: deny stream publish failed ({rc})"),
        );
    }
}

/// The body of [`on_acl_check`].
///
/// # Safety
/// `event_data` is null or a `struct mosquitto_evt_acl_check` valid for the call; `userdata`
/// is null or the `State` registered in init.
unsafe fn acl_check(event: c_int, event_data: *mut c_void, userdata: *mut c_void) -> Verdict {
    if event != MOSQ_EVT_ACL_CHECK || event_data.is_null() || userdata.is_null() {
        return Verdict::Deny(crate::Denial {
            line: format!(
                "iotsec-mqtt-acl: DENY: unexpected callback (event {event}, event_data null: {}, userdata null: {})",
                event_data.is_null(),
                userdata.is_null()
            ),
            action: "-",
            reason: "unexpected callback".into(),
            streamable: false,
        });
    }
    // SAFETY: non-null; for MOSQ_EVT_ACL_CHECK mosquitto passes a `struct
    // mosquitto_evt_acl_check` (mosquitto_broker.h) that lives for the whole call.
    let ev = unsafe { &*event_data.cast::<MosquittoEvtAclCheck>() };
    // SAFETY: non-null; the `State` from init, alive until cleanup unregisters this callback.
    let state = unsafe { &*userdata.cast::<State>() };
    let (client_id, username) = if ev.client.is_null() {
        (None, None)
    } else {
        // SAFETY: `client` is the broker's live client; the returned strings (or null) belong
        // to it and stay valid during this callback.
        unsafe {
            (
                c_bytes(mosquitto_client_id(ev.client)),
                c_bytes(mosquitto_client_username(ev.client)),
            )
        }
    };
    // SAFETY: `topic` is null or a NUL-terminated string owned by the broker for the call.
    let topic = unsafe { c_bytes(ev.topic) };
    let request = AclRequest {
        client_id,
        username,
        access: ev.access,
        topic,
        qos: ev.qos,
        retain: ev.retain != 0,
    };
    let verdict = state.plugin.check(&request);
    if let Verdict::Deny(denial) = &verdict {
        publish_denial(&state.plugin, &request, denial);
    }
    verdict
}

#[cfg(all(test, target_pointer_width = "64"))]
mod layout_tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    /// Offsets printed by a C program compiled against Debian bookworm's mosquitto-dev
    /// 2.0.11 headers (`offsetof(struct mosquitto_evt_acl_check, ...)`, x86_64 / aarch64 LP64).
    #[test]
    fn acl_check_event_matches_mosquitto_broker_h() {
        assert_eq!(offset_of!(MosquittoEvtAclCheck, future), 0);
        assert_eq!(offset_of!(MosquittoEvtAclCheck, client), 8);
        assert_eq!(offset_of!(MosquittoEvtAclCheck, topic), 16);
        assert_eq!(offset_of!(MosquittoEvtAclCheck, payload), 24);
        assert_eq!(offset_of!(MosquittoEvtAclCheck, properties), 32);
        assert_eq!(offset_of!(MosquittoEvtAclCheck, access), 40);
        assert_eq!(offset_of!(MosquittoEvtAclCheck, payloadlen), 44);
        assert_eq!(offset_of!(MosquittoEvtAclCheck, qos), 48);
        assert_eq!(offset_of!(MosquittoEvtAclCheck, retain), 49);
        assert_eq!(offset_of!(MosquittoEvtAclCheck, future2), 56);
        assert_eq!(size_of::<MosquittoEvtAclCheck>(), 88);
        assert_eq!(align_of::<MosquittoEvtAclCheck>(), 8);
    }

    #[test]
    fn option_matches_mosquitto_plugin_h() {
        assert_eq!(offset_of!(MosquittoOpt, key), 0);
        assert_eq!(offset_of!(MosquittoOpt, value), 8);
        assert_eq!(size_of::<MosquittoOpt>(), 16);
    }
}
