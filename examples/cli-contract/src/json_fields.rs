//! Typed fields of a JSON object a tool reads from a file (a device state file, say): each
//! missing or mistyped field is a one-line [`BadInput`] that names the object and the field, so
//! both command-line tools word the same mistake the same way.

use serde_json::Value;

use crate::BadInput;

/// The fields of one JSON object, named `what` in error messages.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    value: &'a Value,
    what: &'a str,
}

impl<'a> Fields<'a> {
    /// Reads the fields of `value`, called `what` in messages ("state").
    pub fn new(value: &'a Value, what: &'a str) -> Self {
        Fields { value, what }
    }

    /// Refuses a value that is not an object, or an object with a key outside `known`: a
    /// misspelt key (`"Now"` for `"now"`) would otherwise read as absent and switch a check off.
    pub fn only(&self, known: &[&str]) -> Result<(), BadInput> {
        let object = self
            .value
            .as_object()
            .ok_or_else(|| BadInput::new(format!("{}: must be a JSON object", self.what)))?;
        match object.keys().find(|k| !known.contains(&k.as_str())) {
            Some(key) => Err(BadInput::new(format!(
                "{}: unknown key {:?} (known: {})",
                self.what,
                crate::snippet(key),
                known.join(", ")
            ))),
            None => Ok(()),
        }
    }

    /// A required string.
    pub fn text(&self, name: &str) -> Result<&'a str, BadInput> {
        self.value
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| BadInput::new(format!("{}: {name} must be a string", self.what)))
    }

    /// A required unsigned integer.
    pub fn number(&self, name: &str) -> Result<u64, BadInput> {
        self.value.get(name).and_then(Value::as_u64).ok_or_else(|| {
            BadInput::new(format!("{}: {name} must be an unsigned integer", self.what))
        })
    }

    /// An optional unsigned integer (absent or `null`: `None`). Present with another type is bad
    /// input, never ignored: dropping a field such as a clock would silently switch checks off.
    /// `unit` ends the message ("seconds since the epoch").
    pub fn optional_number(&self, name: &str, unit: &str) -> Result<Option<u64>, BadInput> {
        match self.value.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                BadInput::new(format!(
                    "{}: {name} must be an unsigned integer ({unit})",
                    self.what
                ))
            }),
        }
    }

    /// A required UUID in its text form, as its 16 bytes.
    pub fn uuid(&self, name: &str) -> Result<[u8; 16], BadInput> {
        uuid::Uuid::parse_str(self.text(name)?)
            .map(|u| *u.as_bytes())
            .map_err(|e| BadInput::new(format!("{}: {name}: {e}", self.what)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(r: Result<impl std::fmt::Debug, BadInput>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn each_mistake_names_the_object_and_the_field() {
        let v = json!({
            "name": "dev-1", "count": 7, "negative": -1, "text_number": "7",
            "now": null, "id": "0bd04ff0-0b0c-4b50-9b4c-6f3c1d2f5a11", "bad_id": "xyz"
        });
        let f = Fields::new(&v, "state");
        assert_eq!(f.text("name").unwrap(), "dev-1");
        assert_eq!(f.number("count").unwrap(), 7);
        assert_eq!(f.optional_number("now", "seconds").unwrap(), None);
        assert_eq!(f.optional_number("absent", "seconds").unwrap(), None);
        assert_eq!(f.optional_number("count", "seconds").unwrap(), Some(7));
        assert_eq!(
            f.uuid("id").unwrap(),
            *uuid::Uuid::parse_str("0bd04ff0-0b0c-4b50-9b4c-6f3c1d2f5a11")
                .unwrap()
                .as_bytes()
        );
        assert_eq!(message(f.text("count")), "state: count must be a string");
        assert_eq!(message(f.text("absent")), "state: absent must be a string");
        assert_eq!(
            message(f.number("negative")),
            "state: negative must be an unsigned integer"
        );
        assert_eq!(
            message(f.number("text_number")),
            "state: text_number must be an unsigned integer"
        );
        assert_eq!(
            message(f.optional_number("name", "seconds since the epoch")),
            "state: name must be an unsigned integer (seconds since the epoch)"
        );
        assert!(message(f.uuid("bad_id")).starts_with("state: bad_id: "));
        assert_eq!(message(f.uuid("count")), "state: count must be a string");
    }

    #[test]
    fn keys_outside_the_known_set_are_refused() {
        let v = json!({"now": 1, "Now": 2});
        let f = Fields::new(&v, "state");
        assert!(f.only(&["now", "Now"]).is_ok());
        assert_eq!(
            message(f.only(&["now"])),
            r#"state: unknown key "Now" (known: now)"#
        );
        assert_eq!(
            message(Fields::new(&json!([1]), "state").only(&["now"])),
            "state: must be a JSON object"
        );
    }
}
