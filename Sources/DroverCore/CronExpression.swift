import Foundation

/// A cron expression: `minute hour day-of-month month day-of-week`, or six fields with
/// `second` first. Each field is `*`, a value, a range `a-b`, a step `*/n` or `a-b/n` (`a/n`:
/// from `a` to the end), or a list of those (`1,15,30-40/5`). Months and weekdays may be named
/// (`JAN`, `MON-FRI`); Sunday is 0 or 7; `?` is `*` in the two day fields. When both day
/// fields are restricted a day matches either, as in Vixie cron (`0 0 13 * FRI`: the 13th and
/// every Friday). `@yearly`, `@monthly`, `@weekly`, `@daily` and `@hourly` stand for the usual.
///
/// Times are wall-clock times in a time zone (``nextFire(after:in:)``): a time that a change
/// to summer time skips fires at the first instant after the gap, and a wall-clock time never
/// fires twice, so in the hour a change back repeats only its first pass fires.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The expression as given.
    public let description: String
    let seconds: Field
    let minutes: Field
    let hours: Field
    let daysOfMonth: Field
    let months: Field
    let daysOfWeek: Field

    /// The values a field allows, as bits.
    struct Field: Sendable, Hashable {
        var bits: UInt64 = 0
        /// Whether the field was restricted (did not start with `*` or `?`).
        var restricted = false

        func contains(_ value: Int) -> Bool { bits & (1 << UInt64(value)) != 0 }
    }

    /// The range and the names of one field.
    private struct Spec {
        let name: String
        let range: ClosedRange<Int>
        var names: [String] = []
        /// Where `names[0]` counts from.
        var firstNamed = 0
        var allowsQuestionMark = false
    }

    private static let specs = (
        second: Spec(name: "second", range: 0...59), minute: Spec(name: "minute", range: 0...59),
        hour: Spec(name: "hour", range: 0...23),
        dayOfMonth: Spec(name: "day of month", range: 1...31, allowsQuestionMark: true),
        month: Spec(
            name: "month", range: 1...12, names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
            firstNamed: 1),
        dayOfWeek: Spec(
            name: "day of week", range: 0...7, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], allowsQuestionMark: true)
    )

    private static let macros = [
        "@yearly": "0 0 0 1 1 *", "@annually": "0 0 0 1 1 *", "@monthly": "0 0 0 1 * *", "@weekly": "0 0 0 * * 0",
        "@daily": "0 0 0 * * *", "@midnight": "0 0 0 * * *", "@hourly": "0 0 * * * *",
    ]

    /// Parses `text`; throws ``JobError/invalidField(_:_:)`` (field `cron`) saying what is wrong.
    public init(_ text: String) throws(JobError) {
        description = text
        let expanded = Self.macros[text.trimmingCharacters(in: .whitespaces).lowercased()] ?? text
        var fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if fields.count == 5 { fields.insert("0", at: 0) }
        guard fields.count == 6 else {
            throw .invalidField(
                "cron",
                "'\(text.prefix(80))' has \(fields.count) fields; give 5 (minute hour day-of-month month day-of-week) or 6 (second first)")
        }
        let specs = Self.specs
        seconds = try Self.parse(fields[0], specs.second)
        minutes = try Self.parse(fields[1], specs.minute)
        hours = try Self.parse(fields[2], specs.hour)
        daysOfMonth = try Self.parse(fields[3], specs.dayOfMonth)
        months = try Self.parse(fields[4], specs.month)
        var weekdays = try Self.parse(fields[5], specs.dayOfWeek)
        if weekdays.contains(7) { weekdays.bits |= 1 }  // Sunday either way
        daysOfWeek = weekdays
        // A day of the month that no allowed month has (February 30) never comes.
        let longest = (1...12).filter(months.contains).map { $0 == 2 ? 29 : CivilTime.daysIn(month: $0, year: 2001) }.max() ?? 0
        if daysOfMonth.restricted && !daysOfWeek.restricted && !(1...longest).contains(where: daysOfMonth.contains) {
            throw .invalidField("cron", "'\(text.prefix(80))' never fires: no allowed month has that day")
        }
    }

    private static func parse(_ text: String, _ spec: Spec) throws(JobError) -> Field {
        func refuse(_ why: String) -> JobError { .invalidField("cron", "\(spec.name) '\(text.prefix(40))': \(why)") }
        func value(_ word: Substring) throws(JobError) -> Int {
            if let n = Int(word) {
                guard spec.range.contains(n) else { throw refuse("\(n) is outside \(spec.range.lowerBound)-\(spec.range.upperBound)") }
                return n
            }
            guard let index = spec.names.firstIndex(of: word.uppercased()) else {
                throw refuse("'\(word.prefix(20))' is not a number\(spec.names.isEmpty ? "" : " or a name like \(spec.names[0])")")
            }
            return index + spec.firstNamed
        }
        var field = Field(restricted: !(text.hasPrefix("*") || text.hasPrefix("?")))
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            var range: ClosedRange<Int>
            let base = pieces[0]
            if base == "*" || (base == "?" && spec.allowsQuestionMark) {
                range = spec.range
            } else if let dash = base.firstIndex(of: "-") {
                let low = try value(base[..<dash])
                let high = try value(base[base.index(after: dash)...])
                guard low <= high else { throw refuse("the range \(base) runs backwards") }
                range = low...high
            } else {
                let single = try value(base)
                range = single...(pieces.count == 2 ? spec.range.upperBound : single)
            }
            var step = 1
            if pieces.count == 2 {
                guard let n = Int(pieces[1]), n > 0 else { throw refuse("the step '\(pieces[1].prefix(20))' must be a number above 0") }
                step = n
            }
            for n in stride(from: range.lowerBound, through: range.upperBound, by: step) { field.bits |= 1 << UInt64(n) }
        }
        return field
    }

    func matchesDay(_ t: CivilTime) -> Bool {
        let byDate = daysOfMonth.contains(t.day)
        let byWeekday = daysOfWeek.contains(t.weekday)
        return daysOfMonth.restricted && daysOfWeek.restricted ? byDate || byWeekday : byDate && byWeekday
    }

    /// The first matching wall-clock time after `t`, within about eight years.
    func next(after t: CivilTime) -> CivilTime? {
        var w = t
        w.second += 1
        w.normalize()
        let lastYear = t.year + 8
        while w.year <= lastYear {
            if !months.contains(w.month) {
                w = CivilTime(year: w.year, month: w.month + 1, day: 1)
            } else if !matchesDay(w) {
                w = CivilTime(year: w.year, month: w.month, day: w.day + 1)
            } else if !hours.contains(w.hour) {
                w = CivilTime(year: w.year, month: w.month, day: w.day, hour: w.hour + 1)
            } else if !minutes.contains(w.minute) {
                w = CivilTime(year: w.year, month: w.month, day: w.day, hour: w.hour, minute: w.minute + 1)
            } else if !seconds.contains(w.second) {
                w.second += 1
            } else {
                return w
            }
            w.normalize()
        }
        return nil
    }

    /// The first firing strictly after `ms` (milliseconds since 1970), in milliseconds, with
    /// times read as wall-clock times in `zone`; `nil` if none comes within about eight years.
    public func nextFire(after ms: Int64, in zone: TimeZone) -> Int64? {
        let after = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        var wall = CivilTime.at(after, in: zone)
        // Each round moves to a later wall-clock time; one that names an instant already past
        // (the repeated hour's second pass) is skipped.
        for _ in 0..<100_000 {
            guard let candidate = next(after: wall) else { return nil }
            let instant = candidate.instant(in: zone)
            if instant * 1000 > ms { return instant * 1000 }
            wall = candidate
        }
        return nil
    }
}
