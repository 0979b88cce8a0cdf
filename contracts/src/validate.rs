//! Validation rules shared by servers and clients.

use thiserror::Error;

/// Longest id accepted anywhere in the system.
pub const ID_MAX_LEN: usize = 64;

/// A field of a request that breaks the documented rules.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// The JSON field, query parameter or path segment at fault.
    pub field: String,
    /// What is wrong with it, for a human.
    pub message: String,
}

impl ValidationError {
    /// Builds an error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Checks an id: 1 to 64 characters from `A-Z a-z 0-9 _ -`.
///
/// The alphabet keeps ids safe in paths, query lists (`ids=a,b`) and storage keys without
/// escaping.
pub fn id(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.is_empty() || value.len() > ID_MAX_LEN {
        return Err(ValidationError::new(
            field,
            format!("must be 1 to {ID_MAX_LEN} characters"),
        ));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ValidationError::new(
            field,
            "may only contain A-Z, a-z, 0-9, '_' and '-'",
        ));
    }
    Ok(())
}

/// Checks free text: `min..=max` characters, no control characters but newline and tab.
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<(), ValidationError> {
    let chars = value.chars().count();
    if chars < min || chars > max {
        return Err(ValidationError::new(
            field,
            format!("must be {min} to {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Checks a currency code: three upper-case ASCII letters (ISO 4217 shape).
pub fn currency(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            "must be three upper-case letters (ISO 4217), e.g. EUR",
        ))
    }
}

/// Checks a category: 1 to 64 characters from `a-z 0-9 -`.
pub fn category(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.is_empty()
        || value.len() > 64
        || !value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(ValidationError::new(
            field,
            "must be 1 to 64 characters from a-z, 0-9 and '-'",
        ));
    }
    Ok(())
}

/// Checks that `value` lies in `min..=max`.
pub fn range<T: PartialOrd + std::fmt::Display>(
    field: &str,
    value: T,
    min: T,
    max: T,
) -> Result<(), ValidationError> {
    if value < min || value > max {
        return Err(ValidationError::new(
            field,
            format!("must be between {min} and {max}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_documented_alphabet() {
        assert!(id("id", "kitchen-00042").is_ok());
        assert!(id("id", "A_b-9").is_ok());
        assert!(id("id", &"x".repeat(ID_MAX_LEN)).is_ok());
    }

    #[test]
    fn ids_reject_everything_else() {
        for bad in ["", "a b", "a/b", "a,b", "é", "a.b", "../x", "a\0"] {
            assert!(id("id", bad).is_err(), "{bad:?} accepted");
        }
        assert!(id("id", &"x".repeat(ID_MAX_LEN + 1)).is_err());
    }

    #[test]
    fn text_counts_characters_not_bytes() {
        assert!(text("name", "ééé", 1, 3).is_ok());
        assert!(text("name", "éééé", 1, 3).is_err());
        assert!(text("name", "", 1, 3).is_err());
        assert!(text("name", "a\u{7}", 1, 3).is_err());
    }

    #[test]
    fn currency_and_category_shapes() {
        assert!(currency("c", "EUR").is_ok());
        assert!(currency("c", "eur").is_err());
        assert!(currency("c", "EURO").is_err());
        assert!(category("c", "home-decor").is_ok());
        assert!(category("c", "Home").is_err());
    }
}
