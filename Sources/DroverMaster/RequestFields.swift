import DroverCore
import Foundation

/// The members of a JSON request object, read with the types the API expects; a member of
/// the wrong type is a 422 naming it, a body that is not a JSON object a 400.
struct RequestFields: Sendable {
    let raw: [String: String]

    init(json text: String) throws(APIError) {
        guard !text.allSatisfy(\.isWhitespace) else { throw .malformed("the body is empty; expected a JSON object") }
        do {
            raw = try JSONScanner.objectFields(text)
        } catch {
            throw .malformed("the body is not a JSON object: \(error)")
        }
    }

    init(raw: [String: String]) {
        self.raw = raw
    }

    /// These fields with `values` added as JSON strings (path and query parameters).
    func adding(_ values: [String: String]) -> RequestFields {
        var raw = self.raw
        for (key, value) in values { raw[key] = JSONScanner.quote(value) }
        return RequestFields(raw: raw)
    }

    func has(_ key: String) -> Bool { raw[key].map { $0 != "null" } ?? false }

    func decode<T: Decodable>(_ key: String, as type: T.Type, expected: String) throws(APIError) -> T? {
        guard let text = raw[key], text != "null" else { return nil }
        do {
            return try WireFormat.decode(T.self, from: text)
        } catch {
            throw .invalid("'\(key)' must be \(expected)")
        }
    }

    func string(_ key: String) throws(APIError) -> String? { try decode(key, as: String.self, expected: "a string") }
    /// An integer, also when given as a string of digits (as query parameters are).
    func int(_ key: String) throws(APIError) -> Int? {
        if let text = try? decode(key, as: String.self, expected: ""), let value = Int(text) { return value }
        return try decode(key, as: Int.self, expected: "an integer")
    }
    func strings(_ key: String) throws(APIError) -> [String]? { try decode(key, as: [String].self, expected: "an array of strings") }

    func required<T>(_ key: String, _ read: (String) throws(APIError) -> T?) throws(APIError) -> T {
        guard let value = try read(key) else { throw .invalid("'\(key)' is required") }
        return value
    }

    func jobID(_ key: String) throws(APIError) -> JobID {
        let text = try required(key, string)
        guard let id = JobID(text) else { throw .invalid("'\(key)' is not a job id: '\(text.prefix(40))'") }
        return id
    }

    /// The elements of an array member, each as its own fields.
    func objects(_ key: String) throws(APIError) -> [RequestFields] {
        guard let text = raw[key], text != "null" else { throw .invalid("'\(key)' is required") }
        do {
            return try JSONScanner.arrayElements(text).map { element throws(APIError) in
                do {
                    return RequestFields(raw: try JSONScanner.objectFields(element))
                } catch {
                    throw .invalid("every element of '\(key)' must be an object")
                }
            }
        } catch let error as APIError {
            throw error
        } catch {
            throw .invalid("'\(key)' must be an array")
        }
    }

    /// A job request as `POST /v1/jobs` takes it; `payload` is kept as the exact JSON sent.
    func jobRequest() throws(APIError) -> JobRequest {
        JobRequest(
            queue: try string("queue") ?? "default", type: try required("type", string), payload: raw["payload"] ?? "{}",
            maxAttempts: try int("maxAttempts"),
            backoff: try decode("backoff", as: BackoffPolicy.self, expected: #"an object like {"strategy":"exponential","baseMs":1000}"#),
            timeoutMs: try int("timeoutMs"), idempotencyKey: try string("idempotencyKey"))
    }

    func lease() throws(APIError) -> JobLease {
        JobLease(id: try jobID("id"), queue: try required("queue", string), attempt: try required("attempt", int))
    }
}

/// Parses `5s`, `500ms`, `2m` or a plain number of seconds.
func parseDuration(_ text: String) throws(APIError) -> Duration {
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60)]
    for (suffix, scale) in units where text.hasSuffix(suffix) {
        if let value = Double(text.dropLast(suffix.count)), value >= 0 { return .milliseconds(Int64(value * scale * 1000)) }
    }
    if let value = Double(text), value >= 0 { return .milliseconds(Int64(value * 1000)) }
    throw .invalid("'\(text)' is not a duration; use 5s, 500ms or 2m")
}
