import DroverCore
import Foundation
import Hummingbird
import Logging
import NIOCore

/// The REST front door: HTTP + JSON on Hummingbird. Each route names an operation of
/// ``MasterAPI``; path and query parameters join the body's fields.
enum RESTRoutes {
    static func router(api: MasterAPI, metrics: MetricsExporter, limits: MasterLimits, logger: Logger) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: JSONErrorMiddleware(logger: logger))

        func route(_ method: HTTPRequest.Method, _ path: RouterPath, op: String, status: Int? = nil, body: Bool = false) {
            router.on(path, method: method) { request, context -> Response in
                var fields = RequestFields(raw: [:])
                if body {
                    let buffer = try await request.body.collect(upTo: limits.maxBodyBytes)
                    fields = try RequestFields(json: String(buffer: buffer))
                }
                var extra: [String: String] = [:]
                for (key, value) in request.uri.queryParameters { extra[String(key)] = String(value) }
                for (key, value) in context.parameters { extra[String(key)] = String(value) }
                let response = try await api.perform(try APIRequest(op: op, fields: fields.adding(extra)))
                return jsonResponse(status ?? response.status, response.json)
            }
        }

        route(.post, "/v1/jobs", op: "submit", body: true)
        route(.post, "/v1/jobs/batch", op: "submitBatch", body: true)
        route(.get, "/v1/jobs/:id", op: "get")
        route(.get, "/v1/queues", op: "queues")
        route(.get, "/v1/queues/:queue/jobs", op: "jobs")
        route(.get, "/v1/workers", op: "workers")
        route(.get, "/v1/dead-letters", op: "deadLetters")
        route(.post, "/v1/dead-letters/:id/retry", op: "retryDeadLetter")
        route(.delete, "/v1/dead-letters", op: "purgeDeadLetters")
        route(.get, "/health", op: "health")
        // Remote workers.
        route(.post, "/v1/workers/:worker/heartbeat", op: "heartbeat", body: true)
        route(.post, "/v1/workers/:worker/claim", op: "claim", body: true)
        route(.post, "/v1/workers/:worker/start", op: "start", body: true)
        route(.post, "/v1/workers/:worker/complete", op: "complete", body: true)
        route(.post, "/v1/workers/:worker/fail", op: "fail", body: true)
        route(.post, "/v1/workers/:worker/reconcile", op: "reconcile", body: true)
        route(.delete, "/v1/workers/:worker", op: "deregister")

        router.get("/metrics") { _, _ -> Response in
            let text = try await metrics.render()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        return router
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
    typealias Context = BasicRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let code: String
            switch error.status.code {
            case 400: code = "malformed"
            case 404: code = "not_found"
            case 405: code = "method_not_allowed"
            case 413: code = "payload_too_large"
            default: code = "http_\(error.status.code)"
            }
            let message =
                error.body ?? (error.status.code == 404 ? "no route for \(request.method) \(request.uri.path)" : error.status.reasonPhrase)
            return RESTRoutes.jsonResponse(error.status.code, APIError(status: error.status.code, code: code, message: message).json)
        } catch {
            let apiError = APIError(error)
            if apiError.status >= 500 {
                logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(apiError.message)"])
            }
            return RESTRoutes.jsonResponse(apiError.status, apiError.json)
        }
    }
}
