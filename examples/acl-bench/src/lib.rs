//! Safe wrapper over libmosquitto's `mosquitto_topic_matches_sub`, the matcher mosquitto 2.0's
//! `acl_file` check loops over; used only by the benchmarks and tests of this package.

use std::ffi::{CStr, c_char, c_int};

unsafe extern "C" {
    fn mosquitto_topic_matches_sub(
        sub: *const c_char,
        topic: *const c_char,
        result: *mut bool,
    ) -> c_int;
}

/// Whether libmosquitto says `topic` matches subscription `sub` (`None` if it reports an error).
pub fn mosquitto_matches(sub: &CStr, topic: &CStr) -> Option<bool> {
    let mut result = false;
    // SAFETY: both pointers come from live `CStr`s (NUL-terminated); `result` is a valid bool.
    let rc = unsafe { mosquitto_topic_matches_sub(sub.as_ptr(), topic.as_ptr(), &mut result) };
    (rc == 0).then_some(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libmosquitto_matches_like_the_spec() {
        assert_eq!(mosquitto_matches(c"sport/#", c"sport"), Some(true));
        assert_eq!(mosquitto_matches(c"sport/+", c"sport"), Some(false));
        assert_eq!(mosquitto_matches(c"#", c"$SYS/x"), Some(false));
    }
}
