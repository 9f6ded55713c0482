import DroverCore
import Foundation
import Testing

/// Cron expressions against next-fire tables worked out by hand from the calendar (weekdays,
/// month lengths, leap years, and the 2026 summer-time changes of New York and Berlin).
@Suite struct CronExpressionTests {
    static func ms(_ text: String) -> Int64 { RFC3339.epochMs(text)! }

    /// The next `expected.count` firings after `after`.
    static func firings(_ expression: String, zone: String = "UTC", after: String, count: Int) throws -> [Int64] {
        let cron = try CronExpression(expression)
        let zone = try #require(TimeZone(identifier: zone))
        var out: [Int64] = []
        var t = ms(after)
        for _ in 0..<count {
            guard let next = cron.nextFire(after: t, in: zone) else { break }
            out.append(next)
            t = next
        }
        return out
    }

    @Test(arguments: [
        (
            "*/15 * * * *", "UTC", "2026-01-01T00:07:00Z",
            ["2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:45:00Z", "2026-01-01T01:00:00Z"]
        ),
        ("0 9 * * MON-FRI", "UTC", "2026-12-04T10:00:00Z", ["2026-12-07T09:00:00Z", "2026-12-08T09:00:00Z", "2026-12-09T09:00:00Z"]),
        ("0 0 * * 7", "UTC", "2026-12-04T10:00:00Z", ["2026-12-06T00:00:00Z", "2026-12-13T00:00:00Z"]),
        ("*/20 * * * * *", "UTC", "2026-01-01T00:00:05Z", ["2026-01-01T00:00:20Z", "2026-01-01T00:00:40Z", "2026-01-01T00:01:00Z"]),
        ("@monthly", "UTC", "2026-12-15T08:00:00Z", ["2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"]),
        ("0 0 ? * ?", "UTC", "2026-12-31T23:00:00Z", ["2027-01-01T00:00:00Z", "2027-01-02T00:00:00Z"]),
        (
            "5,10-20/5 3 * * *", "UTC", "2026-06-01T03:07:00Z",
            ["2026-06-01T03:10:00Z", "2026-06-01T03:15:00Z", "2026-06-01T03:20:00Z", "2026-06-02T03:05:00Z"]
        ),
        ("0 9 * * *", "Asia/Kolkata", "2026-12-04T00:00:00Z", ["2026-12-04T09:00:00+05:30", "2026-12-05T09:00:00+05:30"]),
    ])
    func nextFiringsFollowTheFields(_ expression: String, _ zone: String, _ after: String, _ expected: [String]) throws {
        #expect(try Self.firings(expression, zone: zone, after: after, count: expected.count) == expected.map(Self.ms))
    }

    @Test(arguments: [
        // The 31st: months without one are passed over.
        (
            "0 0 31 * *", "2026-01-31T00:00:00Z",
            ["2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z"]
        ),
        // February 29th comes in leap years only.
        ("0 0 29 2 *", "2026-03-01T00:00:00Z", ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]),
        ("0 12 28-31 * *", "2027-02-27T13:00:00Z", ["2027-02-28T12:00:00Z", "2027-03-28T12:00:00Z", "2027-03-29T12:00:00Z"]),
        ("59 23 31 12 *", "2026-12-31T23:59:00Z", ["2027-12-31T23:59:00Z"]),
        // Both day fields restricted: either one matches (the 13th, and every Friday).
        (
            "0 0 13 * FRI", "2026-11-01T00:00:00Z",
            [
                "2026-11-06T00:00:00Z", "2026-11-13T00:00:00Z", "2026-11-20T00:00:00Z", "2026-11-27T00:00:00Z", "2026-12-04T00:00:00Z",
                "2026-12-11T00:00:00Z", "2026-12-13T00:00:00Z",
            ]
        ),
    ])
    func monthEndsAndLeapYears(_ expression: String, _ after: String, _ expected: [String]) throws {
        #expect(try Self.firings(expression, after: after, count: expected.count) == expected.map(Self.ms))
    }

    @Test(arguments: [
        // New York springs forward on 2026-03-08 at 02:00 to 03:00: 02:30 does not exist that
        // day and fires at the first instant after the gap.
        ("30 2 * * *", "America/New_York", "2026-03-07T12:00:00-05:00", ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]),
        // Every quarter hour: the four in the gap come to one firing at 03:00, not a burst.
        (
            "*/15 * * * *", "America/New_York", "2026-03-08T01:40:00-05:00",
            ["2026-03-08T01:45:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:15:00-04:00"]
        ),
        // It falls back on 2026-11-01 at 02:00 to 01:00: 01:30 comes twice and fires once.
        ("30 1 * * *", "America/New_York", "2026-10-31T12:00:00-04:00", ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]),
        // Hourly: the repeated hour's second pass does not fire again.
        (
            "0 * * * *", "America/New_York", "2026-11-01T00:30:00-04:00",
            ["2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00", "2026-11-01T03:00:00-05:00"]
        ),
        // Berlin springs forward on 2026-03-29 at 02:00 to 03:00.
        ("0 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00+01:00", ["2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"]),
        // And falls back on 2026-10-25 at 03:00 to 02:00.
        ("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00+02:00", ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]),
    ])
    func summerTimeChangesSkipNothingAndRepeatNothing(_ expression: String, _ zone: String, _ after: String, _ expected: [String]) throws {
        #expect(try Self.firings(expression, zone: zone, after: after, count: expected.count) == expected.map(Self.ms))
    }

    @Test func aFiringIsStrictlyAfterTheGivenTime() throws {
        let cron = try CronExpression("* * * * * *")
        let utc = try #require(TimeZone(identifier: "UTC"))
        #expect(cron.nextFire(after: Self.ms("2026-01-01T00:00:00Z"), in: utc) == Self.ms("2026-01-01T00:00:01Z"))
        #expect(cron.nextFire(after: Self.ms("2026-01-01T00:00:00.999Z"), in: utc) == Self.ms("2026-01-01T00:00:01Z"))
    }

    @Test(arguments: [
        "", "* * *", "* * * * * * *", "61 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "5-1 * * * *",
        "*/0 * * * *", "0 0 * * MON-XYZ", "0 0 L * *", "0 0 30 2 *", "a * * * *", "1,,2 * * * *", "? * * * *", "@often",
    ])
    func malformedExpressionsAreRefusedSayingWhy(_ text: String) {
        do {
            _ = try CronExpression(text)
            Issue.record("'\(text)' was accepted")
        } catch {
            guard case .invalidField(let field, let reason) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(field == "cron" && !reason.isEmpty)
        }
    }
}
