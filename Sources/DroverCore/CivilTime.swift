import Foundation

/// A wall-clock time (a date and a time of day, in no zone), with the calendar arithmetic a
/// cron expression needs. The day counts are Howard Hinnant's `days_from_civil` and
/// `civil_from_days`, exact for the proleptic Gregorian calendar.
struct CivilTime: Sendable, Hashable, Comparable {
    var year: Int
    var month: Int
    var day: Int
    var hour = 0
    var minute = 0
    var second = 0

    static func < (a: CivilTime, b: CivilTime) -> Bool {
        (a.year, a.month, a.day, a.hour, a.minute, a.second) < (b.year, b.month, b.day, b.hour, b.minute, b.second)
    }

    /// Days since 1970-01-01.
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The wall-clock time `seconds` after 1970-01-01 00:00:00.
    init(secondsSinceEpoch seconds: Int64) {
        let days = Int((seconds >= 0 ? seconds : seconds - 86_399) / 86_400)
        let inDay = Int(seconds - Int64(days) * 86_400)
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let month = mp < 10 ? mp + 3 : mp - 9
        self.init(
            year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month: month, day: dayOfYear - (153 * mp + 2) / 5 + 1,
            hour: inDay / 3600, minute: inDay % 3600 / 60, second: inDay % 60)
    }

    init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// Seconds since 1970-01-01 00:00:00 of this wall-clock time read as UTC.
    var secondsSinceEpoch: Int64 {
        Int64(Self.days(year: year, month: month, day: day)) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// 0 for Sunday to 6 for Saturday (1970-01-01 was a Thursday).
    var weekday: Int {
        let days = Self.days(year: year, month: month, day: day)
        return ((days % 7) + 7 + 4) % 7
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Carries any field past its range into the next larger one.
    mutating func normalize() {
        if second > 59 { (minute, second) = (minute + second / 60, second % 60) }
        if minute > 59 { (hour, minute) = (hour + minute / 60, minute % 60) }
        if hour > 23 { (day, hour) = (day + hour / 24, hour % 24) }
        while month > 12 || day > Self.daysIn(month: min(month, 12), year: year) {
            if month > 12 {
                (year, month) = (year + 1, month - 12)
            } else {
                day -= Self.daysIn(month: month, year: year)
                month += 1
            }
        }
    }

    /// The wall-clock time at `instant` (seconds since 1970) in `zone`.
    static func at(_ instant: Int64, in zone: TimeZone) -> CivilTime {
        CivilTime(secondsSinceEpoch: instant + Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant)))))
    }

    /// The instant (seconds since 1970) this wall-clock time names in `zone`. A time a change
    /// to summer time skips names the first instant after the gap; a time the change back
    /// repeats names its first occurrence.
    func instant(in zone: TimeZone) -> Int64 {
        let naive = secondsSinceEpoch
        let offsets = Set(
            [-86_400, 0, 86_400].map { zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(naive + Int64($0)))) })
        let valid = offsets.map { naive - Int64($0) }.filter { candidate in
            Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(candidate)))) == naive - candidate
        }
        if let first = valid.min() { return first }
        // In a gap: read with the offset before the change, the time lands past it; the change
        // itself is the first instant after the gap.
        let before = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(naive - 86_400))))
        let past = naive - before
        let change = zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: TimeInterval(past - 86_400)))
        return change.map { Int64($0.timeIntervalSince1970.rounded()) } ?? past
    }
}
