//! Hex text for expected values and fixtures (lower case out, either case in).

/// Lower-case hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of hex text `text` (whitespace ignored); panics on anything else, which in a test
/// is a broken fixture.
pub fn decode(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => panic!("not hex: {text:?}"),
        })
        .collect();
    assert!(
        digits.len().is_multiple_of(2),
        "odd number of hex digits: {text:?}"
    );
    digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ignores_whitespace() {
        assert_eq!(encode(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(decode("00 AB\nff"), [0x00, 0xab, 0xff]);
        assert_eq!(decode(""), Vec::<u8>::new());
    }

    #[test]
    #[should_panic(expected = "odd number")]
    fn refuses_an_odd_digit_count() {
        decode("abc");
    }
}
