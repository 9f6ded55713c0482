import DroverCore
import Foundation

/// An error as the API reports it: `{"error":{"code":"...","message":"..."}}` with an HTTP
/// status (REST) or in an error frame (TCP). When a store's ``JobError`` is behind it, the
/// error carries it as a `job` member too, so a remote store throws exactly the error a local
/// store would have, without reading it back out of the message.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The machine-readable kind of an error; each has its status.
    public enum Code: String, Sendable, CaseIterable {
        case malformed
        case unauthorized
        case forbidden
        case notFound = "not_found"
        case methodNotAllowed = "method_not_allowed"
        case illegalTransition = "illegal_transition"
        case payloadTooLarge = "payload_too_large"
        case invalidField = "invalid_field"
        case `internal`
        case unavailable

        public var status: Int {
            switch self {
            case .malformed: 400
            case .unauthorized: 401
            case .forbidden: 403
            case .notFound: 404
            case .methodNotAllowed: 405
            case .illegalTransition: 409
            case .payloadTooLarge: 413
            case .invalidField: 422
            case .internal: 500
            case .unavailable: 503
            }
        }
    }

    public let code: Code
    public let message: String
    /// The store's error this one reports, if any.
    public let jobError: JobError?

    public init(_ code: Code, _ message: String, jobError: JobError? = nil) {
        self.code = code
        self.message = message
        self.jobError = jobError
    }

    public var status: Int { code.status }

    public var description: String { "\(status) \(code.rawValue): \(message)" }

    /// The `{"error":{…}}` body.
    public var json: String { #"{"error":\#(errorObject)}"# }

    /// The `{"code","message"[,"job"]}` object inside it.
    public var errorObject: String {
        var members = ["code": JSONScanner.quote(code.rawValue), "message": JSONScanner.quote(message)]
        if let jobError { members["job"] = WireFormat.encode(JobErrorWire(jobError)) }
        return APIRequest.object(members)
    }

    /// Reads an error object (`{"code","message"[,"job"]}`); `nil` if it is not one.
    public static func decode(errorObject text: String) -> APIError? {
        struct Body: Decodable {
            var code: String
            var message: String
            var job: JobErrorWire?
        }
        guard let body = try? WireFormat.decode(Body.self, from: text), let code = Code(rawValue: body.code) else { return nil }
        return APIError(code, body.message, jobError: body.job?.jobError)
    }

    /// Reads an `{"error":{…}}` body; `nil` if it is not one.
    public static func decode(body text: String) -> APIError? {
        guard let object = try? JSONScanner.objectFields(text)["error"] else { return nil }
        return decode(errorObject: object)
    }

    public static func malformed(_ message: String) -> APIError { APIError(.malformed, message) }
    public static func unauthorized(_ message: String) -> APIError { APIError(.unauthorized, message) }
    public static func forbidden(_ message: String) -> APIError { APIError(.forbidden, message) }
    public static func notFound(_ message: String) -> APIError { APIError(.notFound, message) }
    public static func tooLarge(_ message: String) -> APIError { APIError(.payloadTooLarge, message) }
    public static func invalid(_ message: String) -> APIError { APIError(.invalidField, message) }
    public static func unavailable(_ message: String) -> APIError { APIError(.unavailable, message) }
    public static func internalError(_ message: String) -> APIError { APIError(.internal, message) }

    /// The API's view of an error an operation threw.
    public init(_ error: any Error) {
        switch error {
        case let error as APIError:
            self = error
        case let error as JobError:
            let code: Code
            switch error {
            case .notFound, .unknownQueue, .unknownSchedule, .unknownWorkflow: code = .notFound
            case .illegalTransition, .batchClosed: code = .illegalTransition
            case .payloadTooLarge: code = .payloadTooLarge
            case .invalidName, .invalidField, .invalidJSON, .invalidWorkflow: code = .invalidField
            }
            self.init(code, error.description, jobError: error)
        default:
            self = .internalError(String(describing: error))
        }
    }
}

/// A ``JobError`` as JSON: its case and its values.
struct JobErrorWire: Codable, Sendable {
    var kind: String
    var field: String?
    var value: String?
    var reason: String?
    var id: JobID?
    var from: JobState?
    var to: JobState?
    var bytes: Int?
    var limit: Int?

    init(_ error: JobError) {
        switch error {
        case .invalidName(let field, let value, let reason): self.init(kind: "invalidName", field: field, value: value, reason: reason)
        case .invalidJSON(let field, let reason): self.init(kind: "invalidJSON", field: field, reason: reason)
        case .payloadTooLarge(let bytes, let limit): self.init(kind: "payloadTooLarge", bytes: bytes, limit: limit)
        case .invalidField(let field, let reason): self.init(kind: "invalidField", field: field, reason: reason)
        case .notFound(let id): self.init(kind: "notFound", id: id)
        case .illegalTransition(let id, let from, let to): self.init(kind: "illegalTransition", id: id, from: from, to: to)
        case .unknownQueue(let queue): self.init(kind: "unknownQueue", value: queue)
        case .unknownSchedule(let name): self.init(kind: "unknownSchedule", value: name)
        case .invalidWorkflow(let reason): self.init(kind: "invalidWorkflow", reason: reason)
        case .unknownWorkflow(let id): self.init(kind: "unknownWorkflow", id: id)
        case .batchClosed(let id): self.init(kind: "batchClosed", id: id)
        }
    }

    private init(
        kind: String, field: String? = nil, value: String? = nil, reason: String? = nil, id: JobID? = nil, from: JobState? = nil,
        to: JobState? = nil, bytes: Int? = nil, limit: Int? = nil
    ) {
        self.kind = kind
        self.field = field
        self.value = value
        self.reason = reason
        self.id = id
        self.from = from
        self.to = to
        self.bytes = bytes
        self.limit = limit
    }

    var jobError: JobError? {
        switch kind {
        case "invalidName": field.map { .invalidName(field: $0, value: value ?? "", reason: reason ?? "") }
        case "invalidJSON": field.map { .invalidJSON(field: $0, reason: reason ?? "") }
        case "payloadTooLarge": bytes.map { .payloadTooLarge(bytes: $0, limit: limit ?? 0) }
        case "invalidField": field.map { .invalidField($0, reason ?? "") }
        case "notFound": id.map { .notFound($0) }
        case "illegalTransition": id.map { .illegalTransition(id: $0, from: from ?? .queued, to: to ?? .queued) }
        case "unknownQueue": value.map { .unknownQueue($0) }
        case "unknownSchedule": value.map { .unknownSchedule($0) }
        case "invalidWorkflow": reason.map { .invalidWorkflow($0) }
        case "unknownWorkflow": id.map { .unknownWorkflow($0) }
        case "batchClosed": id.map { .batchClosed($0) }
        default: nil
        }
    }
}
