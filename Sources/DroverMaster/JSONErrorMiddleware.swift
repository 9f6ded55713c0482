import DroverAPI
import Hummingbird
import Logging

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
