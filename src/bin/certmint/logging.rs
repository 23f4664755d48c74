//! The log: env_logger's text lines (`RUST_LOG` filters), or with `--log-format json` one JSON
//! object per line carrying the same message plus its fields (`host`, `outcome`, `mint_ms`...).

use std::io::Write as _;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// `[time level target] message`, as env_logger writes it.
    Text,
    /// `{"ts":...,"level":...,"target":...,"msg":..., fields...}`, one object a line.
    Json,
}

/// Starts the logger at `default_level` unless `RUST_LOG` says otherwise.
pub(crate) fn init(format: LogFormat, default_level: &str) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_level));
    match format {
        // The fields are in the message already.
        LogFormat::Text => builder.format_key_values(|_, _| Ok(())),
        LogFormat::Json => builder.format(|buf, record| {
            let line = json_line(record, buf.timestamp_micros().to_string());
            writeln!(buf, "{line}")
        }),
    };
    builder.init();
}

/// One record as a JSON object: time, level, target, message, then its key-value fields.
fn json_line(record: &log::Record<'_>, ts: String) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    object.insert("ts".into(), ts.into());
    object.insert("level".into(), record.level().as_str().into());
    object.insert("target".into(), record.target().into());
    object.insert("msg".into(), record.args().to_string().into());
    struct Fields<'a>(&'a mut serde_json::Map<String, serde_json::Value>);
    impl<'kvs> log::kv::VisitSource<'kvs> for Fields<'_> {
        fn visit_pair(
            &mut self,
            key: log::kv::Key<'kvs>,
            value: log::kv::Value<'kvs>,
        ) -> Result<(), log::kv::Error> {
            let value = serde_json::to_value(&value)
                .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
            self.0.insert(key.as_str().to_owned(), value);
            Ok(())
        }
    }
    let _ = record.key_values().visit(&mut Fields(&mut object));
    serde_json::Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_with_fields_is_one_json_object() {
        let mint_ms: Option<f64> = Some(1.5);
        let none: Option<f64> = None;
        let kvs: [(&str, log::kv::Value<'_>); 4] = [
            ("host", log::kv::Value::from("a.example")),
            ("mint_ms", log::kv::Value::from_serde(&mint_ms)),
            ("untrusted", log::kv::Value::from(false)),
            ("none", log::kv::Value::from_serde(&none)),
        ];
        let record = log::Record::builder()
            .args(format_args!("a \"quoted\" line\nwith a newline"))
            .level(log::Level::Info)
            .target("certmint")
            .key_values(&kvs)
            .build();
        let line = json_line(&record, "t".into()).to_string();
        assert!(!line.contains('\n'), "{line}");
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["msg"], "a \"quoted\" line\nwith a newline");
        assert_eq!(parsed["host"], "a.example");
        assert_eq!(parsed["mint_ms"], 1.5);
        assert_eq!(parsed["untrusted"], false);
        assert!(parsed["none"].is_null());
        assert_eq!(parsed["level"], "INFO");
    }
}
