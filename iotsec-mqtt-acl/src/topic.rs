//! Validated MQTT topic names, topic filters and shared subscriptions (MQTT 3.1.1 §4.7,
//! MQTT 5.0 §4.7 and §4.8.2).
//!
//! Both types borrow the caller's string and never normalise it: `t/` and `t` are different
//! topics, empty levels are valid, and a filter whose first level is a wildcard never matches a
//! topic that starts with `$` (MQTT-4.7.2-1).

use crate::error::TopicError;

/// Largest topic in bytes: the length prefix of an MQTT UTF-8 string is 16 bits (MQTT-1.5.3).
pub const MAX_TOPIC_BYTES: usize = 65_535;

/// One level of a topic filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FilterLevel<'a> {
    /// A literal level (may be empty).
    Literal(&'a str),
    /// `+`: exactly one level, any value.
    SingleWildcard,
    /// `#`: this level's parent and any number of levels below it; always last.
    MultiWildcard,
}

impl FilterLevel<'_> {
    /// Whether this level is `+` or `#`.
    pub fn is_wildcard(&self) -> bool {
        !matches!(self, FilterLevel::Literal(_))
    }
}

fn check_common(topic: &str) -> Result<(), TopicError> {
    if topic.is_empty() {
        return Err(TopicError::Empty);
    }
    if topic.len() > MAX_TOPIC_BYTES {
        return Err(TopicError::TooLong { len: topic.len() });
    }
    if let Some(offset) = topic.bytes().position(|b| b == 0) {
        return Err(TopicError::NulCharacter { offset });
    }
    Ok(())
}

/// A topic name as it appears in PUBLISH: no wildcards (MQTT-4.7.3-1..3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TopicName<'a>(&'a str);

impl<'a> TopicName<'a> {
    /// Validates a topic name. Allocates nothing.
    pub fn new(topic: &'a str) -> Result<Self, TopicError> {
        if topic.is_empty() {
            return Err(TopicError::Empty);
        }
        if topic.len() > MAX_TOPIC_BYTES {
            return Err(TopicError::TooLong { len: topic.len() });
        }
        // One pass for NUL and wildcards: this runs on every PUBLISH.
        for (offset, b) in topic.bytes().enumerate() {
            match b {
                0 => return Err(TopicError::NulCharacter { offset }),
                b'+' | b'#' => {
                    return Err(TopicError::WildcardInName {
                        wildcard: char::from(b),
                        offset,
                    });
                }
                _ => {}
            }
        }
        Ok(TopicName(topic))
    }

    /// Validates raw bytes from the wire (UTF-8 first).
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, TopicError> {
        Self::new(utf8(bytes)?)
    }

    /// The topic as given.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// The levels, split on `/` (empty levels included).
    pub fn levels(&self) -> core::str::Split<'a, char> {
        self.0.split('/')
    }

    /// Whether the topic is reserved for the server (`$SYS/...`, MQTT-4.7.2-1).
    pub fn is_reserved(&self) -> bool {
        self.0.starts_with('$')
    }
}

/// Wire bytes as UTF-8 (MQTT-1.5.4-1), or where they stop being UTF-8.
fn utf8(bytes: &[u8]) -> Result<&str, TopicError> {
    core::str::from_utf8(bytes).map_err(|e| TopicError::InvalidUtf8 {
        valid_up_to: e.valid_up_to(),
    })
}

/// A topic filter as it appears in SUBSCRIBE: `+` fills a whole level, `#` is last and alone in
/// its level (MQTT-4.7.1-2, MQTT-4.7.1-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TopicFilter<'a>(&'a str);

impl<'a> TopicFilter<'a> {
    /// Validates a topic filter. Allocates nothing.
    pub fn new(filter: &'a str) -> Result<Self, TopicError> {
        check_common(filter)?;
        let mut offset = 0usize;
        let mut levels = filter.split('/').peekable();
        while let Some(level) = levels.next() {
            let last = levels.peek().is_none();
            if let Some(i) = level.find('#').filter(|_| level != "#" || !last) {
                return Err(TopicError::MisplacedMultiLevelWildcard { offset: offset + i });
            }
            if let Some(i) = level.find('+').filter(|_| level != "+") {
                return Err(TopicError::MisplacedSingleLevelWildcard { offset: offset + i });
            }
            offset += level.len() + 1;
        }
        Ok(TopicFilter(filter))
    }

    /// Validates raw bytes from the wire (UTF-8 first).
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, TopicError> {
        Self::new(utf8(bytes)?)
    }

    /// The filter as given.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// The levels of the filter.
    pub fn levels(&self) -> impl Iterator<Item = FilterLevel<'a>> + Clone + 'a {
        self.0.split('/').map(|l| match l {
            "+" => FilterLevel::SingleWildcard,
            "#" => FilterLevel::MultiWildcard,
            other => FilterLevel::Literal(other),
        })
    }

    /// Whether the filter has no wildcard (it then matches exactly one topic name).
    pub fn is_exact(&self) -> bool {
        !self.0.bytes().any(|b| b == b'+' || b == b'#')
    }

    /// Whether this filter matches the topic name (MQTT 5.0 §4.7, including the `$` rule and
    /// `#` matching its parent level). Allocates nothing.
    pub fn matches(&self, name: &TopicName<'_>) -> bool {
        matches_levels(self.levels(), name.as_str())
    }
}

/// Whether filter levels match a topic name (assumed valid), with the `$` rule.
pub fn matches_levels<'f>(filter: impl IntoIterator<Item = FilterLevel<'f>>, topic: &str) -> bool {
    let mut filter = filter.into_iter().peekable();
    if topic.starts_with('$') && filter.peek().is_some_and(FilterLevel::is_wildcard) {
        return false;
    }
    let mut levels = topic.split('/');
    for f in filter {
        match f {
            FilterLevel::MultiWildcard => return true,
            FilterLevel::SingleWildcard => {
                if levels.next().is_none() {
                    return false;
                }
            }
            FilterLevel::Literal(l) => {
                if levels.next() != Some(l) {
                    return false;
                }
            }
        }
    }
    levels.next().is_none()
}

/// A SUBSCRIBE topic: a plain filter or an MQTT 5.0 shared subscription
/// `$share/{ShareName}/{filter}` (§4.8.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subscription<'a> {
    /// The share name of a shared subscription.
    pub share_name: Option<&'a str>,
    /// The filter that selects messages (without the `$share/{name}/` prefix).
    pub filter: TopicFilter<'a>,
}

impl<'a> Subscription<'a> {
    /// Parses a subscription topic; `$share/` prefixes are split off and checked
    /// (share name non-empty, without `/`, `+`, `#`; a filter must follow, MQTT-4.8.2-1/2).
    pub fn parse(topic: &'a str) -> Result<Self, TopicError> {
        check_common(topic)?;
        if let Some(rest) = topic.strip_prefix("$share/") {
            let (name, filter) = rest
                .split_once('/')
                .ok_or(TopicError::SharedSubscriptionWithoutFilter)?;
            if name.is_empty() {
                return Err(TopicError::SharedSubscriptionEmptyName);
            }
            if let Some(offset) = name.find(['+', '#']) {
                return Err(TopicError::SharedSubscriptionInvalidName {
                    offset: "$share/".len() + offset,
                });
            }
            if filter.is_empty() {
                return Err(TopicError::SharedSubscriptionWithoutFilter);
            }
            return Ok(Subscription {
                share_name: Some(name),
                filter: TopicFilter::new(filter)?,
            });
        }
        if topic == "$share" {
            return Err(TopicError::SharedSubscriptionWithoutFilter);
        }
        Ok(Subscription {
            share_name: None,
            filter: TopicFilter::new(topic)?,
        })
    }
}
