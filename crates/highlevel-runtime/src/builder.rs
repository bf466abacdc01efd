//! What the setters of generated type builders (`types::builder::X`) call.
//!
//! Every setter converts its argument the same way; writing that once here keeps a closure and a
//! `format!` per setter (about 6,000 of them) out of the module crates' compile time.

use std::fmt::Display;

/// A type builder's setter: `value` converted to the field's type, or the reason it could not
/// be, naming `field`. The builder keeps the error and reports it when it is built.
///
/// # Errors
///
/// `error converting supplied value for <field>: <why>` when the conversion fails.
pub fn field<T, U>(value: T, field: &'static str) -> Result<U, String>
where
    T: TryInto<U>,
    T::Error: Display,
{
    value
        .try_into()
        .map_err(|e| format!("error converting supplied value for {field}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_or_names_the_field_and_the_reason() {
        assert_eq!(
            field::<_, String>("Ada", "first_name"),
            Ok("Ada".to_owned())
        );
        assert_eq!(field::<i64, u8>(7, "count"), Ok(7));
        let why = u8::try_from(300_i64).expect_err("300 does not fit a u8");
        assert_eq!(
            field::<i64, u8>(300, "count"),
            Err(format!("error converting supplied value for count: {why}"))
        );
    }
}
