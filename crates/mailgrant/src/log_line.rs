//! The plain log line (no colours): the layout of tracing-subscriber's compact format, written
//! with less of `fmt`'s machinery.
//!
//! Every issued token is logged, and the compact format spent ~8k instructions on each such line
//! (callgrind, token row, 2026-12-03): ~2k formatting the date and time, ~4k writing four fields
//! through `fmt::Debug` and an escaping writer that goes one character at a time. Here the date
//! and time down to the second are formatted once a second per thread, and field values are
//! written in runs, escaped only where they hold a character that a terminal could act on (the
//! compact format escapes those only when it writes colours; this line always does).

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// `2026-12-03T14:30:05.464007Z  INFO span: target: message field=value span_field=value`
pub struct PlainLine;

impl<S, N> FormatEvent<S, N> for PlainLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write_timestamp(&mut w, SystemTime::now())?;
        w.write_str(level_label(event.metadata().level()))?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                w.write_str(span.name())?;
                w.write_char(':')?;
            }
            w.write_char(' ')?;
        }
        w.write_str(event.metadata().target())?;
        w.write_str(": ")?;
        let mut fields = Fields {
            out: &mut w,
            first: true,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                if let Some(formatted) = extensions.get::<FormattedFields<N>>() {
                    if !formatted.is_empty() {
                        w.write_char(' ')?;
                        w.write_str(formatted)?;
                    }
                }
            }
        }
        w.write_char('\n')
    }
}

fn level_label(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE ",
        Level::DEBUG => "DEBUG ",
        Level::INFO => " INFO ",
        Level::WARN => " WARN ",
        Level::ERROR => "ERROR ",
    }
}

thread_local! {
    /// The second last formatted on this thread, and its text up to the fraction's dot.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// `2026-12-03T14:30:05.464007Z ` (UTC, microseconds, then a space).
fn write_timestamp(w: &mut impl fmt::Write, now: SystemTime) -> fmt::Result {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != secs {
            let (y, m, d) = civil_from_days((secs / 86_400) as i64);
            let t = secs % 86_400;
            cached.1.clear();
            write!(
                cached.1,
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.",
                t / 3600,
                t / 60 % 60,
                t % 60
            )?;
            cached.0 = secs;
        }
        w.write_str(&cached.1)
    })?;
    write!(w, "{:06}Z ", since.subsec_micros())
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Writes an event's fields as the compact format does: the message as it is, every other field
/// as `name=value` (a string quoted, as `Debug` quotes it), separated by spaces.
struct Fields<'a, W: fmt::Write> {
    out: &'a mut W,
    first: bool,
    result: fmt::Result,
}

impl<W: fmt::Write> Fields<'_, W> {
    fn start(&mut self, field: &Field) -> fmt::Result {
        if !std::mem::take(&mut self.first) {
            self.out.write_char(' ')?;
        }
        if field.name() != "message" {
            let name = field.name();
            self.out
                .write_str(name.strip_prefix("r#").unwrap_or(name))?;
            self.out.write_char('=')?;
        }
        Ok(())
    }
}

impl<W: fmt::Write> Visit for Fields<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_ok() {
            self.result = self.start(field).and_then(|()| {
                let mut out = Escaped(&mut *self.out);
                if field.name() == "message" {
                    out.write_str(value)
                } else {
                    write!(out, "{value:?}")
                }
            });
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_ok() {
            self.result = self
                .start(field)
                .and_then(|()| write!(Escaped(&mut *self.out), "{value:?}"));
        }
    }
}

/// Passes text on in runs, escaping the characters that a terminal reading the log could take
/// as a command (the ones tracing-subscriber's format escapes: ESC, BEL, BS, FF, DEL, and C1).
struct Escaped<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // C1 characters are U+0080..U+009F, encoded as 0xC2 0x80..0x9F: testing for the lead byte
        // finds them (and lets other characters led by 0xC2 through, below).
        if !s
            .bytes()
            .any(|b| matches!(b, 0x1b | 0x07 | 0x08 | 0x0c | 0x7f | 0xc2))
        {
            return self.0.write_str(s);
        }
        let mut run = 0;
        for (at, ch) in s.char_indices() {
            let code = ch as u32;
            if matches!(code, 0x1b | 0x07 | 0x08 | 0x0c | 0x7f | 0x80..=0x9f) {
                self.0.write_str(&s[run..at])?;
                if code < 0x80 {
                    write!(self.0, "\\x{code:02x}")?;
                } else {
                    write!(self.0, "\\u{{{code:x}}}")?;
                }
                run = at + ch.len_utf8();
            }
        }
        self.0.write_str(&s[run..])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    /// What `log` printed through this format, and through tracing-subscriber's compact one.
    fn both(log: impl Fn()) -> (String, String) {
        let run = |ours: bool| {
            let out = Captured::default();
            let builder = tracing_subscriber::fmt()
                .with_ansi(false)
                .with_writer(out.clone())
                .compact();
            if ours {
                tracing::subscriber::with_default(builder.event_format(PlainLine).finish(), &log);
            } else {
                tracing::subscriber::with_default(builder.finish(), &log);
            }
            let bytes = out.0.lock().unwrap().clone();
            String::from_utf8(bytes).unwrap()
        };
        (run(true), run(false))
    }

    /// A line without its timestamp (up to the first space).
    fn untimed(line: &str) -> &str {
        line.split_once(' ').unwrap().1
    }

    #[test]
    fn lines_read_as_the_compact_format_writes_them_after_the_timestamp() {
        let (ours, theirs) = both(|| {
            let span = tracing::info_span!("refresh", client_id = %"app_1");
            let _in = span.enter();
            tracing::info!(
                family_id = %"fam_1",
                backend = "sqlite",
                workers = 2,
                "refresh token rotated"
            );
            tracing::warn!(error = %"disk \u{1b}[31mfull\u{85}", "could not flush");
        });
        let ours: Vec<_> = ours.lines().map(untimed).collect();
        let theirs: Vec<_> = theirs.lines().map(untimed).collect();
        assert_eq!(ours.len(), 2);
        assert_eq!(ours[0], theirs[0]);
        // Without colours the compact format passes control characters through; this one
        // escapes them whatever the output, so that a log shown in a terminal cannot drive it.
        assert_eq!(
            ours[1],
            theirs[1]
                .replace('\u{1b}', "\\x1b")
                .replace('\u{85}', "\\u{85}")
        );
    }

    #[test]
    fn the_timestamp_is_utc_to_the_microsecond() {
        let mut text = String::new();
        let at = UNIX_EPOCH + std::time::Duration::from_micros(1_796_309_405_004_007);
        write_timestamp(&mut text, at).unwrap();
        assert_eq!(text, "2026-12-03T14:50:05.004007Z ");
        text.clear();
        write_timestamp(
            &mut text,
            UNIX_EPOCH + std::time::Duration::from_secs(951_782_400),
        )
        .unwrap();
        assert_eq!(text, "2000-02-29T00:00:00.000000Z ");
    }
}
