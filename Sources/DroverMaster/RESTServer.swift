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
        case .delete: .delete
        }
    }

    static func router(
        api: MasterAPI, metrics: MetricsExporter, limits: MasterLimits, doors: MasterDoors, logger: Logger
    ) -> Router<MasterRequestContext> {
        let router = Router(context: MasterRequestContext.self)
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

    /// Who sent `request`: its bearer token and, with mutual TLS, its client certificate.
    static func caller(_ request: Request, _ context: MasterRequestContext, _ doors: MasterDoors) async throws -> Caller {
        let certificate = doors.clientCertificatesRequired ? try await context.channel.nioSSL_peerCertificate().get() : nil
        return try doors.caller(token: bearerToken(request), certificate: certificate)
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

/// Turns every error into `{"error":{"code","message"}}` with its status, Hummingbird's own
/// (unknown route, body too large) included.
struct JSONErrorMiddleware: RouterMiddleware {
    typealias Context = MasterRequestContext
    let logger: Logger
    /// Every route's path pattern and method, to tell 405 (known path, other method) from 404.
    let routes: [(String, HTTPRequest.Method)]

    /// The methods of the routes this path would take, literal segments winning over
    /// parameters as in the router (`/v1/jobs/batch` is not `/v1/jobs/:id`).
    func allowedMethods(for path: String) -> [HTTPRequest.Method] {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        var best: (literals: Int, methods: [HTTPRequest.Method]) = (-1, [])
        for (pattern, method) in routes {
            let patternParts = pattern.split(separator: "/", omittingEmptySubsequences: true)
            guard patternParts.count == parts.count, zip(patternParts, parts).allSatisfy({ $0.hasPrefix(":") || $0 == $1 }) else {
                continue
            }
            let literals = patternParts.filter { !$0.hasPrefix(":") }.count
            if literals > best.literals {
                best = (literals, [method])
            } else if literals == best.literals {
                best.methods.append(method)
            }
        }
        return best.methods
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound && !allowedMethods(for: request.uri.path).isEmpty {
            let allowed = allowedMethods(for: request.uri.path).map(\.rawValue).joined(separator: ", ")
            let error = APIError(.methodNotAllowed, "\(request.method) is not allowed here; use \(allowed)")
            var response = RESTRoutes.jsonResponse(error.status, error.json)
            response.headers[.allow] = allowed
            return response
        } catch let error as HTTPError {
            let code: APIError.Code
            switch error.status.code {
            case 404: code = .notFound
            case 405: code = .methodNotAllowed
            case 413: code = .payloadTooLarge
            case 400..<500: code = .malformed
            default: code = .internal
            }
            let message =
                error.body ?? (error.status.code == 404 ? "no route for \(request.method) \(request.uri.path)" : error.status.reasonPhrase)
            // Hummingbird's own status stands (a 4xx it has no code of ours for stays what it was).
            return RESTRoutes.jsonResponse(error.status.code, APIError(code, message).json)
        } catch {
            let apiError = APIError(inMaster: error)
            if apiError.status >= 500 {
                logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(apiError.message)"])
            }
            var response = RESTRoutes.jsonResponse(apiError.status, apiError.json)
            if apiError.status == 401 { response.headers[.wwwAuthenticate] = #"Bearer realm="drover""# }
            return response
        }
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
