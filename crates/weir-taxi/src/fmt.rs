//! Cheap text formatting for trip rows: civil datetimes, integers, distances and money printed
//! the way the TLC CSV files print them (`2021-01-01 00:30:10`, `2.10`, `12.5`, `0.5`, `0`).

pub(crate) use weir_core::civil::{civil_from_days, days_from_civil};

/// Seconds since the epoch of midnight starting the first day of `year`-`month`.
pub(crate) fn month_start(year: i32, month: u32) -> i64 {
    days_from_civil(i64::from(year), month, 1) * 86_400
}

/// Seconds since the epoch of midnight starting the first day of the following month.
pub(crate) fn month_end(year: i32, month: u32) -> i64 {
    if month == 12 {
        month_start(year + 1, 1)
    } else {
        month_start(year, month + 1)
    }
}

/// Day of week of an epoch-second instant: 0 = Sunday … 6 = Saturday.
pub(crate) fn weekday(secs: i64) -> u32 {
    (secs.div_euclid(86_400) + 4).rem_euclid(7) as u32
}

#[inline]
fn push_2(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&two_digits(v));
}

#[inline]
fn two_digits(v: u32) -> [u8; 2] {
    [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8]
}

/// Appends `YYYY-MM-DD HH:MM:SS`.
pub(crate) fn push_datetime(buf: &mut Vec<u8>, secs: i64) {
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        push_i64(buf, y);
        buf.extend_from_slice(b"-00-00 00:00:00");
        let n = buf.len();
        buf[n - 14..n - 12].copy_from_slice(&two_digits(m));
        buf[n - 11..n - 9].copy_from_slice(&two_digits(d));
        buf[n - 8..n - 6].copy_from_slice(&two_digits(tod / 3600));
        buf[n - 5..n - 3].copy_from_slice(&two_digits(tod / 60 % 60));
        buf[n - 2..].copy_from_slice(&two_digits(tod % 60));
        return;
    }
    let y = y as u32;
    let [y1, y2] = two_digits(y / 100);
    let [y3, y4] = two_digits(y % 100);
    let [m1, m2] = two_digits(m);
    let [d1, d2] = two_digits(d);
    let [h1, h2] = two_digits(tod / 3600);
    let [i1, i2] = two_digits(tod / 60 % 60);
    let [s1, s2] = two_digits(tod % 60);
    buf.extend_from_slice(&[
        y1, y2, y3, y4, b'-', m1, m2, b'-', d1, d2, b' ', h1, h2, b':', i1, i2, b':', s1, s2,
    ]);
}

/// Appends a decimal integer.
pub(crate) fn push_i64(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    let mut n = v.unsigned_abs();
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends hundredths with exactly two decimals: `210` → `2.10`, `0` → `0.00`.
pub(crate) fn push_fixed2(buf: &mut Vec<u8>, hundredths: i64) {
    if hundredths < 0 {
        buf.push(b'-');
    }
    let n = hundredths.unsigned_abs();
    push_i64(buf, (n / 100) as i64);
    buf.push(b'.');
    push_2(buf, (n % 100) as u32);
}

/// Appends cents the shortest way, as the TLC files print money: `1250` → `12.5`,
/// `50` → `0.5`, `800` → `8`, `612` → `6.12`, `-50` → `-0.5`.
pub(crate) fn push_money(buf: &mut Vec<u8>, cents: i64) {
    if cents < 0 {
        buf.push(b'-');
    }
    let n = cents.unsigned_abs();
    push_i64(buf, (n / 100) as i64);
    let frac = (n % 100) as u32;
    if frac != 0 {
        buf.push(b'.');
        if frac.is_multiple_of(10) {
            buf.push(b'0' + (frac / 10) as u8);
        } else {
            push_2(buf, frac);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut b = Vec::new();
        f(&mut b);
        String::from_utf8(b).unwrap_or_default()
    }

    #[test]
    fn civil_round_trip() {
        for z in -800_000..800_000 {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2021, 1, 1), 18_628);
    }

    #[test]
    fn formats_like_the_tlc_files() {
        let t = month_start(2021, 1) + 30 * 60 + 10;
        assert_eq!(s(|b| push_datetime(b, t)), "2021-01-01 00:30:10");
        assert_eq!(
            s(|b| push_datetime(b, month_end(2021, 2) - 1)),
            "2021-02-28 23:59:59"
        );
        assert_eq!(
            s(|b| push_datetime(b, month_end(2020, 2) - 1)),
            "2020-02-29 23:59:59"
        );
        assert_eq!(
            s(|b| push_datetime(b, month_end(2021, 12))),
            "2022-01-01 00:00:00"
        );
        assert_eq!(
            s(|b| push_datetime(b, month_start(10000, 3) + 3661)),
            "10000-03-01 01:01:01"
        );
        assert_eq!(s(|b| push_fixed2(b, 210)), "2.10");
        assert_eq!(s(|b| push_fixed2(b, 5)), "0.05");
        assert_eq!(s(|b| push_money(b, 1250)), "12.5");
        assert_eq!(s(|b| push_money(b, 50)), "0.5");
        assert_eq!(s(|b| push_money(b, 250)), "2.5");
        assert_eq!(s(|b| push_money(b, 800)), "8");
        assert_eq!(s(|b| push_money(b, 0)), "0");
        assert_eq!(s(|b| push_money(b, 612)), "6.12");
        assert_eq!(s(|b| push_money(b, 1105)), "11.05");
        assert_eq!(s(|b| push_money(b, -50)), "-0.5");
        assert_eq!(s(|b| push_i64(b, 265)), "265");
        // 2021-01-01 was a Friday.
        assert_eq!(weekday(month_start(2021, 1)), 5);
    }
}
