import DroverCore
import Testing

/// RFC 3339 times against values computed independently (Python's datetime).
@Suite struct RFC3339Tests {
    @Test(arguments: [
        ("2026-12-03T14:00:00Z", Int64(1_796_306_400_000)),
        ("2026-12-03t14:00:00z", 1_796_306_400_000),
        ("2026-12-03T15:00:00.250+01:00", 1_796_306_400_250),
        ("2026-12-03T15:00:00.2509999+01:00", 1_796_306_400_250),
        ("2024-02-29T23:59:59.999Z", 1_709_251_199_999),
        ("2026-03-29T01:30:00-05:30", 1_774_767_600_000),
        ("1969-12-31T23:59:59Z", -1000),
        ("0001-01-01T00:00:00Z", -62_135_596_800_000),
        ("9999-12-31T23:59:59.999Z", 253_402_300_799_999),
    ])
    func knownTimes(_ text: String, _ ms: Int64) {
        #expect(RFC3339.epochMs(text) == ms, "\(text)")
    }

    @Test(arguments: [
        "2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z",
        "2026-12-03T24:00:00Z", "2026-12-03T14:60:00Z", "2026-12-03T14:00:60Z", "2026-12-03T14:00:00", "2026-12-03 14:00:00Z",
        "2026-12-03T14:00:00.Z", "2026-12-03T14:00:00+1:00", "2026-12-03T14:00:00+24:00", "2026-12-03T14:00:00Zjunk", "1796306400000",
        "", "2026-12-03",
    ])
    func malformedOrNonexistentTimesAreRefused(_ text: String) {
        #expect(RFC3339.epochMs(text) == nil, "\(text)")
    }

    @Test func aRunAtBefore1970IsPastAndOneAfter9999IsCappedNotRefused() throws {
        #expect(JobStart.at(rfc3339: "1900-01-01T00:00:00Z") == .at(epochMs: 0))
        #expect(JobStart.at(rfc3339: "9999-12-31T23:59:59.999-05:00") == .at(epochMs: JobStart.latestRunAtMs))
        #expect(JobStart.at(rfc3339: "2026-02-30T00:00:00Z") == nil)
        #expect(throws: JobError.self) { try JobStart.at(epochMs: JobStart.latestRunAtMs + 1).validate() }
    }
}
