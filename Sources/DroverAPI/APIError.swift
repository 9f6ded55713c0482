import DroverCore

/// An error as the API reports it: `{"error":{"code":"...","message":"..."}}` with an HTTP
/// status (REST) or in an error frame (TCP).
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let message: String

    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(status) \(code): \(message)" }

    public var json: String {
        #"{"error":{"code":\#(JSONScanner.quote(code)),"message":\#(JSONScanner.quote(message))}}"#
    }

    public static func malformed(_ message: String) -> APIError { APIError(status: 400, code: "malformed", message: message) }
    public static func unauthorized(_ message: String) -> APIError { APIError(status: 401, code: "unauthorized", message: message) }
    public static func forbidden(_ message: String) -> APIError { APIError(status: 403, code: "forbidden", message: message) }
    public static func notFound(_ message: String) -> APIError { APIError(status: 404, code: "not_found", message: message) }
    public static func conflict(_ message: String) -> APIError { APIError(status: 409, code: "illegal_transition", message: message) }
    public static func tooLarge(_ message: String) -> APIError { APIError(status: 413, code: "payload_too_large", message: message) }
    public static func invalid(_ message: String) -> APIError { APIError(status: 422, code: "invalid_field", message: message) }
    public static func unavailable(_ message: String) -> APIError { APIError(status: 503, code: "unavailable", message: message) }
    public static func internalError(_ message: String) -> APIError { APIError(status: 500, code: "internal", message: message) }

    /// The API's view of any error an operation throws.
    public init(_ error: any Error) {
        switch error {
        case let error as APIError:
            self = error
        case let error as JobError:
            switch error {
            case .notFound: self = .notFound(error.description)
            case .illegalTransition: self = .conflict(error.description)
            case .payloadTooLarge: self = .tooLarge(error.description)
            case .invalidName, .invalidField, .invalidJSON: self = .invalid(error.description)
            }
        default:
            self = .internalError(String(describing: error))
        }
    }
}
