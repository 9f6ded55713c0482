import DroverAPI
import DroverCore
import DroverTLS
import Foundation

/// How a remote worker or client reaches a master: a request in, the result's JSON out.
/// ``HTTPTransport`` and ``TCPTransport`` speak the two front doors, each by the routes of
/// ``APIOperation`` and the fields of ``APIRequest``.
public protocol MasterTransport: Sendable {
    /// Performs `request` and returns the result's JSON, or throws ``RemoteError``.
    func call(_ request: APIRequest, timeout: Duration) async throws(RemoteError) -> String

    func close() async
}

/// What went wrong talking to a master.
public enum RemoteError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The master could not be reached or the connection broke: the call may be retried.
    case unreachable(String)
    /// The master answered with an error.
    case api(APIError)
    /// The master's answer made no sense.
    case badResponse(String)
    /// Not something a master offers remotely.
    case unsupported(String)

    public var description: String {
        switch self {
        case .unreachable(let reason): return "cannot reach the master: \(reason)"
        case .api(let error): return "master answered \(error)"
        case .badResponse(let reason): return "unexpected answer from the master: \(reason)"
        case .unsupported(let reason): return "not available through a master: \(reason)"
        }
    }

    /// Reads an `{"error":{…}}` body.
    static func fromErrorBody(status: Int, _ json: String) -> RemoteError {
        if let error = APIError.decode(body: json) { return .api(error) }
        return .badResponse("status \(status): \(json.prefix(200))")
    }
}

/// Where a master listens: `http://host:port`, `tcp://host:port`, or the same over TLS,
/// `https://host:port` and `tcps://host:port`.
public struct MasterURL: Sendable, Equatable, CustomStringConvertible {
    public enum Scheme: String, Sendable {
        case http
        case https
        case tcp
        case tcps

        /// Whether the connection is TLS.
        public var isSecure: Bool { self == .https || self == .tcps }
    }

    public var scheme: Scheme
    public var host: String
    public var port: Int

    public init(_ text: String) throws {
        guard let range = text.range(of: "://"), let scheme = Scheme(rawValue: String(text[..<range.lowerBound])) else {
            throw RemoteError.badResponse("master URL must be http(s)://HOST:PORT or tcp(s)://HOST:PORT, got '\(text)'")
        }
        var rest = text[range.upperBound...]
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else {
            let example = scheme == .http || scheme == .https ? 8080 : 7070
            throw RemoteError.badResponse("master URL needs a port, as in \(scheme)://127.0.0.1:\(example)")
        }
        self.scheme = scheme
        self.host = String(rest[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        self.port = port
    }

    public var description: String { "\(scheme.rawValue)://\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    /// A transport for this URL, presenting `token` when the master asks for one. `tls` names
    /// the CA that signed the master's certificate (else the system's roots) and, for mutual
    /// TLS, this client's certificate; it is used only by `https` and `tcps`.
    public func transport(token: String? = nil, tls: TLSFiles? = nil) throws -> any MasterTransport {
        let configuration = scheme.isSecure ? try (tls ?? TLSFiles()).clientConfiguration() : nil
        switch scheme {
        case .http, .https: return HTTPTransport(url: self, token: token, tls: configuration)
        case .tcp, .tcps: return try TCPTransport(host: host, port: port, token: token, tls: configuration)
        }
    }
}
