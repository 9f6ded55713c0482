import DroverAPI
import DroverCore
import Testing

/// Requests parsed from their fields, as both doors receive them.
@Suite struct RequestParsingTests {
    @Test func durationsTakeTheirUnits() throws {
        #expect(try parseDuration("5s") == .seconds(5))
        #expect(try parseDuration("500ms") == .milliseconds(500))
        #expect(try parseDuration("2m") == .seconds(120))
        #expect(try parseDuration("1.5") == .milliseconds(1500))
        #expect(throws: APIError.self) { try parseDuration("soon") }
        #expect(throws: APIError.self) { try parseDuration("123456s") }
    }

    @Test func aFieldOfTheWrongTypeIsNamedInA422() throws {
        let fields = try RequestFields(json: #"{"type":"t","maxAttempts":"three"}"#)
        #expect(throws: APIError.invalid("'maxAttempts' must be an integer")) { try APIRequest(op: "submit", fields: fields) }
    }

    @Test func runAtIsRFC3339TextOrMillisecondsAndNeverBesideADelay() throws {
        func start(_ json: String) throws -> JobStart? {
            guard case .submit(let request) = try APIRequest(op: "submit", fields: try RequestFields(json: json)) else { return nil }
            return request.start
        }
        #expect(try start(#"{"type":"t","runAt":"2026-12-03T14:00:00Z"}"#) == .at(epochMs: 1_796_306_400_000))
        #expect(try start(#"{"type":"t","runAt":1796306400000}"#) == .at(epochMs: 1_796_306_400_000))
        #expect(try start(#"{"type":"t","delayMs":5000}"#) == .after(.seconds(5)))
        for bad in [
            #"{"type":"t","runAt":null}"#, #"{"type":"t","runAt":"1796306400000"}"#, #"{"type":"t","runAt":"2026-02-30T00:00:00Z"}"#,
            #"{"type":"t","runAt":-1}"#, #"{"type":"t","runAt":253402300800000}"#, #"{"type":"t","delayMs":1,"runAt":1}"#,
            #"{"type":"t","delayMs":-1}"#,
        ] {
            #expect(throws: APIError.self, "\(bad)") { try start(bad) }
        }
    }
}
