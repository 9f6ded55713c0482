import DroverAPI
import DroverCore
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOSSL

/// The REST front door: HTTP + JSON on Hummingbird. Its routes are ``APIOperation``'s table;
/// path and query parameters join the body's fields.
enum RESTRoutes {
    /// Hummingbird's pattern for a route's path: `{id}` becomes `:id`.
    static func pattern(_ route: APIOperation.Route) -> String {
        route.path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")
    }

    static func method(_ route: APIOperation.Route) -> HTTPRequest.Method {
        switch route.method {
        case .get: .get
        case .post: .post
        case .put: .put
        case .delete: .delete
        }
    }

    static func router(
        api: MasterAPI, metrics: MetricsExporter, limits: MasterLimits, doors: MasterDoors, tls: Bool, logger: Logger
    ) -> Router<MasterRequestContext> {
        let router = Router(context: MasterRequestContext.self)
        // The dashboard answers in HTML, so before the JSON error middleware.
        Dashboard.addRoutes(to: router, api: api, doors: doors, tls: tls, logger: logger)
        // Middleware first: it applies only to routes added after it.
        let patterns = APIOperation.allCases.map { (pattern($0.route), method($0.route)) }
        router.add(middleware: JSONErrorMiddleware(logger: logger, routes: patterns))
        for operation in APIOperation.allCases where operation != .metrics {
            let route = operation.route
            router.on(RouterPath(pattern(route)), method: method(route)) { request, context -> Response in
                let caller = operation.access == .anyone ? Caller.anyone : try await RESTRoutes.caller(request, context, doors)
                // Refused before the body is read: a stranger cannot make the master parse it.
                try caller.authorize(operation)
                var fields = RequestFields(raw: [:])
                if route.hasBody {
                    let buffer = try await request.body.collect(upTo: limits.maxBodyBytes)
                    fields = try RequestFields(json: String(buffer: buffer))
                }
                var extra: [String: String] = [:]
                for (key, value) in request.uri.queryParameters { extra[String(key)] = String(value) }
                for (key, value) in context.parameters { extra[String(key)] = String(value).removingPercentEncoding ?? String(value) }
                let apiRequest = try APIRequest(operation, fields: fields.adding(extra))
                try caller.authorize(apiRequest)
                let response = try await api.perform(apiRequest)
                return jsonResponse(response.status, response.json)
            }
        }
        let metricsRoute = APIOperation.metrics.route
        router.on(RouterPath(pattern(metricsRoute)), method: method(metricsRoute)) { request, context -> Response in
            try await RESTRoutes.caller(request, context, doors).authorize(.metrics)
            let text = try await metrics.render()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        return router
    }

    /// Who sent `request`: its bearer token (else the dashboard's session cookie, whose actions
    /// must carry the CSRF header) and, with mutual TLS, its client certificate.
    static func caller(_ request: Request, _ context: MasterRequestContext, _ doors: MasterDoors) async throws -> Caller {
        let certificate = try await clientCertificate(context, doors)
        if let token = bearerToken(request) { return try doors.caller(token: token, certificate: certificate) }
        if let session = Dashboard.sessionToken(request) {
            if request.method != .get && request.method != .head { try Dashboard.checkCSRF(request) }
            return try doors.caller(token: session, certificate: certificate)
        }
        return try doors.caller(token: nil, certificate: certificate)
    }

    /// The TLS client certificate, when the doors ask for one (mutual TLS).
    static func clientCertificate(_ context: MasterRequestContext, _ doors: MasterDoors) async throws -> NIOSSLCertificate? {
        doors.clientCertificatesRequired ? try await context.channel.nioSSL_peerCertificate().get() : nil
    }

    /// The token of an `Authorization: Bearer …` header.
    static func bearerToken(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }

    static func jsonResponse(_ status: Int, _ json: String) -> Response {
        Response(
            status: HTTPResponse.Status(code: status), headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: json)))
    }
}

/// Hummingbird's request context plus the connection, whose TLS client certificate names the
/// caller under mutual TLS.
struct MasterRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
