//! The decision for one mosquitto ACL check, in safe Rust: raw bytes from the broker in, allow
//! or deny (with the log line) out. Everything that is not understood is denied.

use iotsec_mqtt_acl::decision::Reason;
use iotsec_mqtt_acl::posture_feed::PostureFeed;
use iotsec_mqtt_acl::{
    ClientContext, CompiledPolicy, Effect, Request, SubscribeMode, Subscription,
};

use crate::access::Access;
use crate::options::DenyStream;

/// One `MOSQ_EVT_ACL_CHECK` event, as bytes borrowed from the broker (`None` for a null
/// pointer). A C string cannot hold U+0000, but the bytes are checked anyway.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AclRequest<'a> {
    /// `mosquitto_client_id(client)`.
    pub client_id: Option<&'a [u8]>,
    /// `mosquitto_client_username(client)`; `None` for an anonymous client. With
    /// `use_identity_as_username` (or `use_subject_as_username`) on a TLS listener this is the
    /// client certificate's CN (or subject), so `${username}` then names the certificate.
    pub username: Option<&'a [u8]>,
    /// The event's `access` (`MOSQ_ACL_*`).
    pub access: i32,
    /// The event's topic: a topic name for READ/WRITE, a filter (maybe `$share/...`) for
    /// SUBSCRIBE/UNSUBSCRIBE.
    pub topic: Option<&'a [u8]>,
    /// The event's QoS.
    pub qos: u8,
    /// The event's retain flag (a retained PUBLISH is checked as `publish_retained`).
    pub retain: bool,
}

/// The answer to one ACL check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// `MOSQ_ERR_SUCCESS`.
    Allow,
    /// `MOSQ_ERR_ACL_DENIED`.
    Deny(Denial),
}

/// Why a check was denied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    /// The line to log (client text escaped).
    pub line: String,
    /// The action (`publish`, `publish_retained`, `subscribe`, `receive`, `unsubscribe`, or
    /// `-` for an unknown access value).
    pub action: &'static str,
    /// Why, without the client's identity.
    pub reason: String,
    /// Whether this denial may go to the deny stream (`false` for denials of the stream's own
    /// topic, which would otherwise feed themselves).
    pub streamable: bool,
}

/// What the plugin knows beyond the policy: the posture feed, whether the username is the
/// certificate CN, and the deny stream whose topic the plugin itself guards.
#[derive(Clone, Copy, Debug, Default)]
pub struct Context<'a> {
    /// The posture feed in force, if any.
    pub posture: Option<&'a PostureFeed>,
    /// Now, in Unix seconds (for attestation ages).
    pub now: u64,
    /// The username is the certificate CN (`use_identity_as_username`).
    pub username_is_cert_cn: bool,
    /// The deny stream, if configured.
    pub deny_stream: Option<&'a DenyStream>,
}

impl Verdict {
    /// Whether the check is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Verdict::Allow)
    }
}

/// Decides one ACL check against the policy.
///
/// READ is checked as `receive`, WRITE as `publish` (`publish_retained` when the retain flag
/// is set), SUBSCRIBE as `subscribe` in `mode`. UNSUBSCRIBE only removes access, so it is
/// granted for any well-formed filter. Denied: a null or non-UTF-8 client id, username or
/// topic, U+0000 anywhere, an unknown access value, and everything the policy does not allow.
/// Without a [`Context`] there is no posture, certificate CN or attributes: rules that need them
/// do not grant (and deny rules that need them apply), as the policy semantics say.
pub fn authorize(policy: &CompiledPolicy, mode: SubscribeMode, req: &AclRequest<'_>) -> Verdict {
    authorize_in(policy, mode, req, &Context::default())
}

/// [`authorize`] with the posture feed, the certificate CN and the deny stream of `cx`.
///
/// The deny stream's topic is the plugin's: a PUBLISH to it is always denied, and a SUBSCRIBE
/// to exactly it or a delivery on it is allowed for the configured readers and denied for
/// everyone else, whatever the policy says. A wildcard filter that covers it is judged by the
/// policy, and each delivery through it by the reader check.
pub fn authorize_in(
    policy: &CompiledPolicy,
    mode: SubscribeMode,
    req: &AclRequest<'_>,
    cx: &Context<'_>,
) -> Verdict {
    authorize_timed(policy, mode, req, cx).0
}

/// [`authorize_in`], and whether the verdict read the time (a rule with an attestation-age
/// condition was evaluated, see [`iotsec_mqtt_acl::decision::UntracedDecision::reads_time`]):
/// an allow that did not may be remembered until the policy or the posture feed changes.
pub fn authorize_timed(
    policy: &CompiledPolicy,
    mode: SubscribeMode,
    req: &AclRequest<'_>,
    cx: &Context<'_>,
) -> (Verdict, bool) {
    let mut reads_time = false;
    let verdict = decide(policy, mode, req, cx, &mut reads_time);
    (verdict, reads_time)
}

fn decide(
    policy: &CompiledPolicy,
    mode: SubscribeMode,
    req: &AclRequest<'_>,
    cx: &Context<'_>,
    reads_time: &mut bool,
) -> Verdict {
    let Some(access) = Access::from_raw(req.access) else {
        return deny(
            req,
            "-",
            format_args!("unknown access value {}", req.access),
        );
    };
    let what = access.as_str();
    let client_id = match text(req.client_id) {
        Ok(s) => s,
        Err(problem) => return deny(req, what, format_args!("client id {problem}")),
    };
    let username = match req.username {
        None => None,
        Some(bytes) => match text(Some(bytes)) {
            Ok(s) => Some(s),
            Err(problem) => return deny(req, what, format_args!("username {problem}")),
        },
    };
    let topic = match text(req.topic) {
        Ok(s) => s,
        Err(problem) => return deny(req, what, format_args!("topic {problem}")),
    };
    let cert_cn = username.filter(|_| cx.username_is_cert_cn);
    // A revoked identity keeps its TLS session until it disconnects (the listener checks the
    // CRL only at the handshake): it loses everything, the deny stream and UNSUBSCRIBE included.
    if cx
        .posture
        .is_some_and(|feed| feed.is_revoked(client_id, cert_cn))
    {
        return deny(
            req,
            access.action(req.retain).map_or(what, |a| a.as_str()),
            format_args!("identity_revoked: the posture feed marks this identity revoked"),
        );
    }
    if let Some(verdict) = cx
        .deny_stream
        .and_then(|stream| guard_stream(stream, access, username, topic, req))
    {
        return verdict;
    }
    let Some(action) = access.action(req.retain) else {
        // UNSUBSCRIBE: no rule governs it; a malformed filter is still refused.
        return match Subscription::parse(topic) {
            Ok(_) => Verdict::Allow,
            Err(e) => deny(req, what, format_args!("invalid filter: {e}")),
        };
    };
    let posture = cx
        .posture
        .map(|feed| feed.posture(client_id, cert_cn, cx.now))
        .unwrap_or_default();
    let ctx = ClientContext {
        client_id,
        username,
        cert_cn,
        attributes: &[],
        posture,
    };
    let request = Request {
        action,
        topic,
        qos: req.qos,
    };
    // Untraced: the verdict needs only the effect and the reason, not which rules matched.
    let decided = policy.decide_untraced(&ctx, &request, mode);
    *reads_time = decided.reads_time;
    let (effect, reason) = (decided.effect, decided.reason);
    if effect == Effect::Allow {
        return Verdict::Allow;
    }
    // Say so when quarantine took the grant away: the operator reading the log or the deny
    // stream then knows why a device lost a topic it had.
    let note = if ctx.posture.quarantined {
        "; posture: quarantined"
    } else {
        ""
    };
    let rule_name = |rule: u32| {
        policy
            .policy()
            .rules()
            .get(usize::try_from(rule).unwrap_or(usize::MAX))
            .map_or("?", |r| r.name.as_str())
    };
    match reason {
        Reason::DeniedBy { rule } => deny(
            req,
            action.as_str(),
            format_args!("denied by rule {rule} ({:?}){note}", rule_name(rule)),
        ),
        Reason::PlaceholderUnusable {
            rule,
            placeholder,
            problem,
        } => deny(
            req,
            action.as_str(),
            format_args!(
                "rule {rule} ({:?}): placeholder {placeholder} unusable for this client: {problem}{note}",
                rule_name(rule)
            ),
        ),
        Reason::InvalidTopic(e) => deny(req, action.as_str(), format_args!("invalid topic: {e}")),
        other => deny(
            req,
            action.as_str(),
            format_args!("{}: {other}{note}", other.kind()),
        ),
    }
}

/// The plugin's own rules for the deny stream's topic; `None` when they do not apply.
fn guard_stream(
    stream: &DenyStream,
    access: Access,
    username: Option<&str>,
    topic: &str,
    req: &AclRequest<'_>,
) -> Option<Verdict> {
    let plain = match access {
        Access::Subscribe | Access::Unsubscribe => match Subscription::parse(topic) {
            Ok(sub) => sub.filter.as_str() == stream.topic,
            Err(_) => false,
        },
        Access::Read | Access::Write => topic == stream.topic,
    };
    if !plain {
        return None;
    }
    let reader = username.is_some_and(|u| stream.readers.iter().any(|r| r == u));
    let verdict = match access {
        Access::Write => deny(
            req,
            access.as_str(),
            format_args!("the deny stream's topic is written only by the broker"),
        ),
        Access::Unsubscribe => Verdict::Allow,
        Access::Read | Access::Subscribe if reader => Verdict::Allow,
        Access::Read | Access::Subscribe => deny(
            req,
            access.as_str(),
            format_args!("the deny stream is read only by plugin_opt_deny_readers"),
        ),
    };
    Some(match verdict {
        Verdict::Deny(d) => Verdict::Deny(Denial {
            streamable: false,
            ..d
        }),
        allow => allow,
    })
}

/// UTF-8 text without U+0000, or what is wrong with it.
fn text(bytes: Option<&[u8]>) -> Result<&str, &'static str> {
    let bytes = bytes.ok_or("is missing (null)")?;
    let s = std::str::from_utf8(bytes).map_err(|_| "is not UTF-8")?;
    if s.contains('\0') {
        return Err("contains U+0000");
    }
    Ok(s)
}

/// The deny verdict and its log line. Client-supplied text is shown with `{:?}` escaping, so a
/// client cannot forge log lines with newlines or control characters.
fn deny(req: &AclRequest<'_>, what: &'static str, why: std::fmt::Arguments<'_>) -> Verdict {
    let show = |b: Option<&[u8]>| match b {
        None => "(null)".to_string(),
        Some(b) => format!("{:?}", String::from_utf8_lossy(b)),
    };
    let reason = why.to_string();
    Verdict::Deny(Denial {
        line: format!(
            "iotsec-mqtt-acl: DENY {what} client_id={} username={} topic={} qos={}: {reason}",
            show(req.client_id),
            show(req.username),
            show(req.topic),
            req.qos,
        ),
        action: what,
        reason,
        streamable: true,
    })
}
