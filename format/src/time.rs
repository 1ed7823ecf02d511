//! Timestamps: nanoseconds since the epoch, shown in UTC.
//!
//! Captures are evidence read on other machines, so dredge prints times in UTC whatever the
//! analyst's time zone, in the forms sysdig and Falco users know.

/// A UTC instant split into calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u64,
    pub minute: u64,
    pub second: u64,
    pub nanos: u64,
}

impl Utc {
    pub fn from_ns(ns: u64) -> Utc {
        let secs = ns / 1_000_000_000;
        let (days, rem) = (secs / 86_400, secs % 86_400);
        let (year, month, day) = civil_from_days(days as i64);
        Utc {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            nanos: ns % 1_000_000_000,
        }
    }

    /// The time of day of `ns` as [`time_bytes`](Utc::time_bytes) writes it, without working
    /// out the date (`print` writes one per event).
    pub fn time_of_day_bytes(ns: u64, out: &mut [u8; 18]) {
        let rem = ns / 1_000_000_000 % 86_400;
        let t = Utc {
            year: 0,
            month: 0,
            day: 0,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            nanos: ns % 1_000_000_000,
        };
        t.time_bytes(out);
    }

    /// `2019-04-11 19:43:33.999999999`
    pub fn datetime(&self) -> String {
        format!("{:04}-{:02}-{:02} {}", self.year, self.month, self.day, self.time())
    }

    /// `19:43:33.999999999` (sysdig's and Falco's `evt.time`)
    pub fn time(&self) -> String {
        let mut b = [0u8; 18];
        self.time_bytes(&mut b);
        b.iter().map(|&c| c as char).collect()
    }

    /// [`time`](Utc::time) into a buffer, digit by digit (a line of `print` shows one).
    pub fn time_bytes(&self, out: &mut [u8; 18]) {
        fn digits(out: &mut [u8], mut v: u64) {
            for d in out.iter_mut().rev() {
                *d = b'0' + (v % 10) as u8;
                v /= 10;
            }
        }
        digits(&mut out[0..2], self.hour % 100);
        out[2] = b':';
        digits(&mut out[3..5], self.minute);
        out[5] = b':';
        digits(&mut out[6..8], self.second);
        out[8] = b'.';
        digits(&mut out[9..18], self.nanos);
    }

    /// `2016-08-04T16:17:57.881781397+0000` (Falco's `evt.time.iso8601`)
    pub fn iso8601(&self) -> String {
        format!("{:04}-{:02}-{:02}T{}+0000", self.year, self.month, self.day, self.time())
    }

    /// `2016-08-04T16:17:57.881781397Z` (the `time` of a Falco JSON alert)
    pub fn rfc3339(&self) -> String {
        format!("{:04}-{:02}-{:02}T{}Z", self.year, self.month, self.day, self.time())
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(Utc::from_ns(0).datetime(), "1970-01-01 00:00:00.000000000");
        let t = Utc::from_ns(1_470_327_477_881_781_397);
        assert_eq!(t.iso8601(), "2016-08-04T16:17:57.881781397+0000");
        assert_eq!(t.rfc3339(), "2016-08-04T16:17:57.881781397Z");
        assert_eq!(
            Utc::from_ns(951_782_400_000_000_001).datetime(),
            "2000-02-29 00:00:00.000000001"
        );
    }
}
