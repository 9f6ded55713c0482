import DroverAPI
import DroverCore
import Foundation
import Hummingbird
import Logging
import NIOCore

/// The web dashboard at `/ui`: hand-written HTML, CSS and JavaScript embedded in the binary (no
/// build step, no CDN, works offline), a login that turns a token into a cookie, and a stream of
/// queue counts. The pages act only through the REST API, so every action goes through
/// ``MasterAPI`` and the same authorization as any client's.
enum Dashboard {
    /// The token, once logged in: HttpOnly, so no script (ours or an injected one) can read it.
    static let sessionCookie = "drover_session"
    /// A random value the pages echo in ``csrfHeader`` on every action. Another site can make a
    /// browser send the cookies, but cannot read this one to echo it.
    static let csrfCookie = "drover_csrf"
    static let csrfHeader = "X-Drover-CSRF"

    static let index = String(decoding: PackageResources.index_html, as: UTF8.self)
    static let login = String(decoding: PackageResources.login_html, as: UTF8.self)
    static let assets: [String: (type: String, body: String)] = [
        "dashboard.js": ("text/javascript; charset=utf-8", String(decoding: PackageResources.dashboard_js, as: UTF8.self)),
        "overview.js": ("text/javascript; charset=utf-8", String(decoding: PackageResources.overview_js, as: UTF8.self)),
        "pages.js": ("text/javascript; charset=utf-8", String(decoding: PackageResources.pages_js, as: UTF8.self)),
        "dashboard.css": ("text/css; charset=utf-8", String(decoding: PackageResources.dashboard_css, as: UTF8.self)),
    ]

    /// No script, style or connection but the master's own, no inline script, no framing.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    static func addRoutes(to router: Router<MasterRequestContext>, api: MasterAPI, doors: MasterDoors, tls: Bool, logger: Logger) {
        router.get("/ui") { request, context -> Response in
            guard try await signedIn(request, context, doors) else { return redirect(to: "/ui/login") }
            return page(index, request: request, tls: tls)
        }
        router.get("/ui/login") { request, _ -> Response in
            let failed = request.uri.queryParameters["failed"] != nil
            return page(
                login.replacingOccurrences(
                    of: "<p class=\"error\" hidden>", with: failed ? "<p class=\"error\">" : "<p class=\"error\" hidden>"),
                request: request, tls: tls)
        }
        router.post("/ui/login") { request, context -> Response in
            let form = String(buffer: try await request.body.collect(upTo: 16 << 10))
            let token = (try? URLEncodedFormDecoder().decode(LoginForm.self, from: form))?.token.trimmingCharacters(in: .whitespaces)
            let certificate = try await RESTRoutes.clientCertificate(context, doors)
            guard let token, (try? doors.caller(token: token, certificate: certificate)) != nil else {
                logger.warning("dashboard login refused")
                return redirect(to: "/ui/login?failed=1")
            }
            var response = redirect(to: "/ui")
            response.setCookie(cookie(sessionCookie, encode(token), tls: tls, httpOnly: true))
            response.setCookie(cookie(csrfCookie, newCSRFToken(), tls: tls, httpOnly: false))
            logger.info("dashboard login", metadata: ["role": "\(doors.auth?.role(for: token)?.rawValue ?? "-")"])
            return response
        }
        router.post("/ui/logout") { request, _ -> Response in
            try checkCSRF(request)
            var response = Response(status: .noContent, headers: securityHeaders)
            response.setCookie(cookie(sessionCookie, "", tls: tls, httpOnly: true, maxAge: 0))
            return response
        }
        router.get("/ui/assets/:name") { request, context -> Response in
            guard let name = context.parameters.get("name"), let asset = assets[name] else { return notFound() }
            var headers = securityHeaders
            headers[.contentType] = asset.type
            headers[.cacheControl] = "no-cache"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: asset.body)))
        }
        router.get("/ui/events") { request, context -> Response in
            guard try await signedIn(request, context, doors) else {
                return Response(
                    status: .unauthorized, headers: securityHeaders, body: .init(byteBuffer: ByteBuffer(string: "log in at /ui/login\n")))
            }
            return events(api: api)
        }
    }

    /// Queue counts and the throughput samples taken since the last event once a second, and
    /// the workers every other second, as Server-Sent Events, until the page goes away. However
    /// many jobs change meanwhile, a page gets one update a second: it draws the queues'
    /// state, not each change.
    static func events(api: MasterAPI) -> Response {
        var headers = securityHeaders
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                var tick = 0
                // The page reads the history once from /v1/throughput and the stream brings what
                // follows; it starts a minute back, for a master whose clock is ahead of Redis's
                // (the page drops samples it has).
                var sampledUpTo = Int64(Date().timeIntervalSince1970 * 1000) - 60_000
                while !Task.isCancelled {
                    var text = ""
                    if let queues = try? await api.perform(.queues) { text += "event: queues\ndata: \(queues.json)\n\n" }
                    if case .throughput(let queues)? = try? await api.perform(.throughput(since: sampledUpTo)),
                        let newest = queues.compactMap({ $0.samples.last?.at }).max()
                    {
                        sampledUpTo = newest
                        text += "event: throughput\ndata: \(APIResult.throughput(queues).json)\n\n"
                    }
                    if tick % 2 == 0, let workers = try? await api.perform(.workers) { text += "event: workers\ndata: \(workers.json)\n\n" }
                    try await writer.write(ByteBuffer(string: text.isEmpty ? ": waiting for Redis\n\n" : text))
                    tick += 1
                    try await Task.sleep(for: .seconds(1))
                }
                try await writer.finish(nil)
            })
    }

    /// Whether the request may see the pages: always without auth, else with a valid session.
    static func signedIn(_ request: Request, _ context: MasterRequestContext, _ doors: MasterDoors) async throws -> Bool {
        guard doors.auth != nil else { return true }
        guard let token = sessionToken(request) else { return false }
        return (try? doors.caller(token: token, certificate: try await RESTRoutes.clientCertificate(context, doors))) != nil
    }

    /// The token of the session cookie, if the request carries one.
    static func sessionToken(_ request: Request) -> String? {
        guard let value = request.cookies[sessionCookie]?.value, !value.isEmpty else { return nil }
        return value.removingPercentEncoding
    }

    /// An action by cookie must echo the CSRF cookie in its header; `403` otherwise.
    static func checkCSRF(_ request: Request) throws(APIError) {
        guard let cookie = request.cookies[csrfCookie]?.value, cookie.count >= 32,
            let header = request.headers[.init(csrfHeader)!], header == cookie
        else {
            throw .forbidden("a dashboard action needs the \(csrfHeader) header to match the \(csrfCookie) cookie")
        }
    }

    static var securityHeaders: HTTPFields {
        [
            .contentSecurityPolicy: contentSecurityPolicy, .init("X-Content-Type-Options")!: "nosniff",
            .init("X-Frame-Options")!: "DENY", .init("Referrer-Policy")!: "no-referrer",
        ]
    }

    /// An HTML page, with a CSRF cookie if the browser has none yet (so the pages can act
    /// without a login when auth is off).
    static func page(_ html: String, request: Request, tls: Bool) -> Response {
        var headers = securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        var response = Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
        if (request.cookies[csrfCookie]?.value.count ?? 0) < 32 {
            response.setCookie(cookie(csrfCookie, newCSRFToken(), tls: tls, httpOnly: false))
        }
        return response
    }

    static func redirect(to path: String) -> Response {
        var headers = securityHeaders
        headers[.location] = path
        return Response(status: .seeOther, headers: headers)
    }

    static func notFound() -> Response {
        Response(status: .notFound, headers: securityHeaders, body: .init(byteBuffer: ByteBuffer(string: "not found\n")))
    }

    static func cookie(_ name: String, _ value: String, tls: Bool, httpOnly: Bool, maxAge: Int? = nil) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: "/", secure: tls, httpOnly: httpOnly, sameSite: .strict)
    }

    static func newCSRFToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// A token as a cookie value: RFC 6265 allows no spaces, commas, semicolons or quotes.
    static func encode(_ token: String) -> String {
        token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }

    /// The login form's one field.
    struct LoginForm: Decodable {
        var token: String
    }
}
