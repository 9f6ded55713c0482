import AsyncHTTPClient
import DroverAPI
import DroverCore
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// One client for the whole process: its connection pool is shared (pooled per TLS
/// configuration), and as a global it is never shut down, so a transport that is simply
/// dropped leaks nothing. A connection that cannot be made fails the call at once rather than
/// being retried until the call's deadline: callers have their own retry and backoff, and a
/// certificate the master refuses is not going to be accepted on the next try.
private let masterHTTPClient: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.retryConnectionEstablishment = false
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
}()

/// Operations as REST calls, on AsyncHTTPClient (keep-alive connections, pooled).
public final class HTTPTransport: MasterTransport {
    let base: String
    let client: HTTPClient
    let token: String?
    let tls: TLSConfiguration?

    /// - Parameters:
    ///   - token: sent as `Authorization: Bearer` on every request.
    ///   - tls: for an `https` URL, how to check the master and what to present to it.
    public init(url: MasterURL, token: String? = nil, tls: TLSConfiguration? = nil) {
        base = "\(url.scheme == .https ? "https" : "http")://\(url.host.contains(":") ? "[\(url.host)]" : url.host):\(url.port)"
        client = masterHTTPClient
        self.token = token
        self.tls = tls
    }

    public func close() async {}

    public func call(_ apiRequest: APIRequest, timeout: Duration) async throws(RemoteError) -> String {
        let route = apiRequest.operation.route
        var fields = apiRequest.fields
        var path = route.path
        while let open = path.range(of: "{"), let close = path.range(of: "}") {
            let name = String(path[open.upperBound..<close.lowerBound])
            let value = fields.removeValue(forKey: name).flatMap { try? WireFormat.decode(String.self, from: $0) } ?? ""
            path.replaceSubrange(
                open.lowerBound..<close.upperBound, with: value.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? value)
        }
        var request = HTTPClientRequest(url: base + path)
        request.method = HTTPMethod(rawValue: route.method.rawValue)
        request.tlsConfiguration = tls
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if route.hasBody {
            let body = APIRequest.object(fields)
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        } else if !fields.isEmpty {
            var query = URLComponents()
            query.queryItems = fields.map { key, raw in
                URLQueryItem(name: key, value: (try? WireFormat.decode(String.self, from: raw)) ?? raw)
            }
            request.url += "?" + (query.percentEncodedQuery ?? "")
        }
        do {
            let response = try await client.execute(request, timeout: TimeAmount(timeout))
            let body = String(buffer: try await response.body.collect(upTo: 64 << 20))
            guard (200..<300).contains(response.status.code) else {
                throw RemoteError.fromErrorBody(status: Int(response.status.code), body)
            }
            return body
        } catch let error as RemoteError {
            throw error
        } catch {
            throw .unreachable(String(describing: error))
        }
    }
}
