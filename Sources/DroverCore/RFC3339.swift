/// RFC 3339 times (`2026-12-03T14:00:00Z`, `2026-12-03T15:00:00.250+01:00`) read strictly: a
/// date that does not exist, such as February 30th, is refused rather than rolled over into
/// the next month as Foundation's ISO 8601 parser does, so a typo cannot schedule a job for a
/// day nobody meant.
public enum RFC3339 {
    /// Milliseconds since 1970 (negative before it); `nil` for text that is not an RFC 3339
    /// date-time. Fractions of a second past the millisecond are dropped.
    public static func epochMs(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        func digits(_ at: Int, _ count: Int) -> Int? {
            guard at + count <= b.count else { return nil }
            var value = 0
            for byte in b[at..<at + count] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        func at(_ i: Int, _ characters: String) -> Bool { i < b.count && characters.utf8.contains(b[i]) }
        guard let year = digits(0, 4), at(4, "-"), let month = digits(5, 2), at(7, "-"), let day = digits(8, 2), at(10, "Tt"),
            let hour = digits(11, 2), at(13, ":"), let minute = digits(14, 2), at(16, ":"), let second = digits(17, 2),
            (1...12).contains(month), (1...CivilTime.daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60, second < 60
        else { return nil }
        var i = 19
        var ms = 0
        if at(i, ".") {
            i += 1
            let first = i
            var scale = 100
            while let digit = digits(i, 1) {
                ms += digit * scale
                scale /= 10
                i += 1
            }
            guard i > first else { return nil }
        }
        var offsetMinutes = 0
        if at(i, "Zz") {
            i += 1
        } else if at(i, "+-") {
            guard let hours = digits(i + 1, 2), at(i + 3, ":"), let minutes = digits(i + 4, 2), hours < 24, minutes < 60 else { return nil }
            offsetMinutes = (b[i] == UInt8(ascii: "-") ? -1 : 1) * (hours * 60 + minutes)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let seconds = CivilTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second).secondsSinceEpoch
        return (seconds - Int64(offsetMinutes) * 60) * 1000 + Int64(ms)
    }
}
