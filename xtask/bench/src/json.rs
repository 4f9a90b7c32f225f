//! The JSON of the children's one-line contract and of `report.json`: a
//! [`Value`] built field by field in order, written compactly on one line
//! and parsed back, on `serde_json` (keys kept in insertion order).
//!
//! The writing keeps the contract's number format, which scripts outside
//! this package parse: whole numbers (below 10^15) print without a
//! fraction (`10`, not `10.0`), other numbers as Rust prints an `f64`
//! (never in exponent form), and a non-finite number is `null`.

use std::fmt;
use std::io;

use serde_json::ser::{CharEscape, CompactFormatter, Formatter};

/// A JSON value (numbers are read as `f64`), built with [`Value::with`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Value(serde_json::Value);

impl Value {
    /// `null`.
    pub const NULL: Value = Value(serde_json::Value::Null);

    /// An empty object, to fill with [`Value::with`].
    pub fn object() -> Value {
        Value(serde_json::Value::Object(serde_json::Map::new()))
    }

    /// This object with `key` set to `value` (appended; a builder).
    ///
    /// # Panics
    ///
    /// When `self` is not an object.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Value {
        match &mut self.0 {
            serde_json::Value::Object(fields) => {
                fields.insert(key.to_string(), value.into().0);
            }
            _ => panic!("Value::with on a non-object"),
        }
        self
    }

    /// The field `key` of an object.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.0.get(key).cloned().map(Value)
    }

    /// The number in field `key` of an object.
    pub fn num(&self, key: &str) -> Option<f64> {
        self.0.get(key)?.as_f64()
    }

    /// The string in field `key` of an object.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.as_str()
    }

    /// The boolean in field `key` of an object.
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.0.get(key)?.as_bool()
    }

    /// Parses one JSON document (surrounding whitespace allowed).
    pub fn parse(text: &str) -> Result<Value, String> {
        serde_json::from_str(text)
            .map(Value)
            .map_err(|e| e.to_string())
    }

    /// The `serde_json` value.
    pub fn as_serde(&self) -> &serde_json::Value {
        &self.0
    }
}

/// serde_json's compact output with the contract's numbers (see the module
/// documentation) and its escapes (`\u0008`, `\u000c` for backspace and
/// form feed, as before).
struct Contract;

impl Formatter for Contract {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        if !value.is_finite() {
            writer.write_all(b"null")
        } else if value.fract() == 0.0 && value.abs() < 1e15 {
            write!(writer, "{}", value as i64)
        } else {
            write!(writer, "{value}")
        }
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        match escape {
            CharEscape::Backspace => writer.write_all(b"\\u0008"),
            CharEscape::FormFeed => writer.write_all(b"\\u000c"),
            other => CompactFormatter.write_char_escape(writer, other),
        }
    }
}

impl fmt::Display for Value {
    /// Compact JSON on one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, Contract);
        serde::Serialize::serialize(&self.0, &mut ser).map_err(|_| fmt::Error)?;
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value(b.into())
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        // Whole numbers as integers (they print so, and read back exactly);
        // a non-finite number has no JSON form: null.
        if n.fract() == 0.0 && n.abs() < 1e15 {
            Value((n as i64).into())
        } else {
            Value(serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, Into::into))
        }
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::from(n as f64)
    }
}

impl From<usize> for Value {
    fn from(n: usize) -> Value {
        Value::from(n as f64)
    }
}

impl From<i32> for Value {
    fn from(n: i32) -> Value {
        Value::from(f64::from(n))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value(s.into())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::NULL, Into::into)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Value {
        Value(serde_json::Value::Array(
            v.into_iter().map(|x| x.into().0).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let v = Value::object()
            .with("workload", "w1")
            .with("received", 10u64)
            .with("elapsed_s", 0.25)
            .with("ok", true)
            .with("none", Value::NULL)
            .with("list", vec![1.5, 2.0])
            .with("text", "a\"b\\c\nd");
        let line = v.to_string();
        assert_eq!(
            line,
            r#"{"workload":"w1","received":10,"elapsed_s":0.25,"ok":true,"none":null,"list":[1.5,2],"text":"a\"b\\c\nd"}"#
        );
        assert_eq!(Value::parse(&line).unwrap().to_string(), line);
        assert_eq!(v.num("received"), Some(10.0));
        assert_eq!(v.str("workload"), Some("w1"));
        assert_eq!(v.bool("ok"), Some(true));
    }

    #[test]
    fn numbers_print_as_the_contract_wants() {
        let v = Value::object()
            .with("tiny", 1e-7)
            .with("rate", 117_010.465_417_711_92)
            .with("big", 1e16)
            .with("nan", f64::NAN)
            .with("inf", f64::INFINITY)
            .with("neg", -3.0);
        assert_eq!(
            v.to_string(),
            r#"{"tiny":0.0000001,"rate":117010.46541771192,"big":10000000000000000,"nan":null,"inf":null,"neg":-3}"#
        );
        let controls = Value::object().with("c", "\u{8}\u{c}\u{1}\t");
        assert_eq!(controls.to_string(), r#"{"c":"\u0008\u000c\u0001\t"}"#);
    }

    #[test]
    fn contract_lines_read_and_write_back_unchanged() {
        // Lines as the hand-written writer printed them before serde_json.
        for line in [
            r#"{"workload":"w1","received":100000,"bytes":6400000,"elapsed_s":0.854615864,"msgs_per_s":117010.46541771192,"timed_out":false,"error":null,"impl":"raw","handle":null,"complete":true}"#,
            r#"{"workload":"w1","role":"counterpart","sent":100000,"accepted_s":0.480379237,"complete":true}"#,
            r#"{"workload":"w3","role":"counterpart","round_trips":5000,"measured":4500,"mean_us":104.9011795555557,"p50_us":102.38199999999999,"p99_us":166.036,"min_us":69.793,"max_us":1681.674,"complete":true}"#,
            r#"{"workload":"w4","cpu_s":0.00023466800000000732,"wall_s":3.002225861,"cpu_source":"schedstat","settle_s":0.5,"received":0,"error":null,"impl":"uzmq","handle":"stream","complete":true}"#,
        ] {
            assert_eq!(Value::parse(line).unwrap().to_string(), line);
        }
    }

    #[test]
    fn parses_spacing_and_exponents_and_refuses_garbage() {
        let v = Value::parse(" { \"a\" : 1e3 , \"b\" : [ ] , \"c\": {} }\n").unwrap();
        assert_eq!(v.num("a"), Some(1000.0));
        assert!(Value::parse("{\"a\":1} x").is_err());
        assert!(Value::parse("{\"a\":}").is_err());
        assert_eq!(Value::from(f64::NAN).to_string(), "null");
    }
}
