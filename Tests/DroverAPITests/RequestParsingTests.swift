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
}
