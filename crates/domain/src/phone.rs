//! Phone numbers.

use crate::error::FieldError;

/// Normalises a phone number: visual separators (spaces, dots, dashes, parentheses)
/// are removed and a leading `00` becomes `+`, so `+49 (30) 1234-5678` is stored as
/// `+493012345678` (E.164). A number without a country prefix is kept with its digits
/// only; a country-aware parse is a later refinement.
/// # Errors
/// `invalid_format` when anything other than digits and separators remains, or the
/// digit count is outside 4 to 15 (the E.164 maximum).
pub fn normalise(raw: &str, pointer: &str) -> Result<String, FieldError> {
    let bad = || {
        FieldError::new(
            pointer,
            "invalid_format",
            "must be a phone number of 4 to 15 digits, optionally starting with +",
        )
    };
    let t = raw.trim();
    let (plus, rest) = if let Some(r) = t.strip_prefix('+') {
        (true, r)
    } else if let Some(r) = t.strip_prefix("00") {
        (true, r)
    } else {
        (false, t)
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '.' | '-' | '(' | ')' | '/' => {}
            _ => return Err(bad()),
        }
    }
    if !(4..=15).contains(&digits.len()) || (plus && digits.starts_with('0')) {
        return Err(bad());
    }
    Ok(if plus { format!("+{digits}") } else { digits })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn international_numbers_become_e164() {
        assert_eq!(normalise("+49 (30) 1234-5678", "/p").unwrap(), "+493012345678");
        assert_eq!(normalise("0049 30 12345678", "/p").unwrap(), "+493012345678");
        assert_eq!(normalise("030 1234567", "/p").unwrap(), "0301234567");
    }

    #[test]
    fn letters_and_absurd_lengths_are_refused() {
        assert!(normalise("call me", "/p").is_err());
        assert!(normalise("+1", "/p").is_err());
        assert!(normalise("+1234567890123456", "/p").is_err());
    }
}
