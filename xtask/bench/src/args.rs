//! A small command-line parser for the `<command> --key value ...` shape
//! that every binary of this package uses: options are taken one by one with
//! their type, and [`Args::finish`] refuses any that nobody took.

use std::collections::BTreeMap;
use std::str::FromStr;

/// A command and its `--key value` options (a `--flag` with no value, or
/// followed by another `--option`, is `"true"`).
#[derive(Debug, Clone, Default)]
pub struct Args {
    /// The first word that is not an option (`w1`, `info`, ...), if any.
    pub command: Option<String>,
    options: BTreeMap<String, String>,
}

impl Args {
    /// Parses `words` (the program name already removed).
    pub fn parse<I, S>(words: I) -> Result<Args, String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let words: Vec<String> = words.into_iter().map(Into::into).collect();
        let mut args = Args::default();
        let mut i = 0;
        while i < words.len() {
            let word = &words[i];
            if let Some(key) = word.strip_prefix("--") {
                if key.is_empty() {
                    return Err("unexpected `--`".into());
                }
                let (key, value) = match key.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => match words.get(i + 1) {
                        Some(next) if !next.starts_with("--") => {
                            i += 1;
                            (key.to_string(), next.clone())
                        }
                        _ => (key.to_string(), "true".to_string()),
                    },
                };
                if args.options.insert(key.clone(), value).is_some() {
                    return Err(format!("option --{key} given twice"));
                }
            } else if args.command.is_none() {
                args.command = Some(word.clone());
            } else {
                return Err(format!("unexpected argument `{word}`"));
            }
            i += 1;
        }
        Ok(args)
    }

    /// Takes option `--key` parsed as `T`; `None` when it was not given.
    pub fn take_opt<T: FromStr>(&mut self, key: &str) -> Result<Option<T>, String> {
        match self.options.remove(key) {
            None => Ok(None),
            Some(raw) => raw
                .parse()
                .map(Some)
                .map_err(|_| format!("option --{key}: cannot parse `{raw}`")),
        }
    }

    /// Takes option `--key`, which must be given.
    pub fn take<T: FromStr>(&mut self, key: &str) -> Result<T, String> {
        self.take_opt(key)?
            .ok_or_else(|| format!("option --{key} is required"))
    }

    /// Takes option `--key`, or `default` when it was not given.
    pub fn take_or<T: FromStr>(&mut self, key: &str, default: T) -> Result<T, String> {
        Ok(self.take_opt(key)?.unwrap_or(default))
    }

    /// Takes a `--flag` (true when given without a value or as `true`).
    pub fn flag(&mut self, key: &str) -> Result<bool, String> {
        self.take_or(key, false)
    }

    /// Fails when an option was given that no `take*` call took.
    pub fn finish(&self) -> Result<(), String> {
        match self.options.keys().next() {
            None => Ok(()),
            Some(key) => Err(format!("unknown option --{key}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_options_and_flags() {
        let mut a = Args::parse(["w1", "--port", "5", "--quick", "--n=7"]).unwrap();
        assert_eq!(a.command.as_deref(), Some("w1"));
        assert_eq!(a.take::<u16>("port").unwrap(), 5);
        assert_eq!(a.take::<u64>("n").unwrap(), 7);
        assert!(a.flag("quick").unwrap());
        assert!(!a.flag("absent").unwrap());
        a.finish().unwrap();
    }

    #[test]
    fn refuses_leftovers_duplicates_and_garbage() {
        let a = Args::parse(["w1", "--bogus", "1"]).unwrap();
        assert!(a.finish().is_err());
        assert!(Args::parse(["--n", "1", "--n", "2"]).is_err());
        let mut a = Args::parse(["--n", "x"]).unwrap();
        assert!(a.take::<u64>("n").is_err());
        assert!(Args::parse(["a", "b"]).is_err());
    }
}
