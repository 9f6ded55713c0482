import AsyncHTTPClient
import DroverAPI
import DroverCore
import DroverMaster
import DroverTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The dashboard's server side: pages only after a login when auth is on, security headers on
/// every page, and actions by cookie only with the CSRF header.
@Suite struct DashboardTests {
    static let admin = "admin-token-0123456789"
    static let reader = "read-token-0123456789"
    static let auth = TokenAuthenticator(entries: [(.admin, admin), (.client, "client-token-0123456789"), (.read, reader)])

    /// Redirects are what is tested: not followed. Lives as long as the test process.
    static let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))

    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: String
        func cookie(_ name: String) -> String? {
            headers["Set-Cookie"].compactMap { line -> String? in
                let first = line.split(separator: ";")[0]
                guard first.hasPrefix(name + "=") else { return nil }
                return String(first.dropFirst(name.count + 1))
            }.first
        }
    }

    func send(
        _ m: MasterFixture, _ method: HTTPMethod, _ path: String, body: String? = nil, contentType: String = "application/json",
        cookies: [String: String] = [:], headers: [String: String] = [:]
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: m.httpURL + path)
        request.method = method
        if !cookies.isEmpty { request.headers.add(name: "Cookie", value: cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await Self.client.execute(request, timeout: .seconds(30))
        return Reply(
            status: Int(response.status.code), headers: response.headers,
            body: String(buffer: try await response.body.collect(upTo: 4 << 20)))
    }

    @Test func withAuthThePagesWantALoginAndActionsWantTheCSRFHeader() async throws {
        let m = try await MasterFixture.start(auth: Self.auth)
        defer { Task { await m.stop() } }
        // Without a session: the login page, and the REST API refuses as before.
        let anonymous = try await send(m, .GET, "/ui")
        #expect(anonymous.status == 303 && anonymous.headers["Location"].first == "/ui/login")
        #expect(try await send(m, .GET, "/ui/events").status == 401)
        let login = try await send(m, .GET, "/ui/login")
        #expect(login.status == 200 && login.body.contains("<form method=\"post\" action=\"/ui/login\">"))
        #expect(try await send(m, .GET, "/v1/queues").status == 401)

        let refused = try await send(
            m, .POST, "/ui/login", body: "token=wrong-token-000000000", contentType: "application/x-www-form-urlencoded")
        #expect(
            refused.status == 303 && refused.headers["Location"].first == "/ui/login?failed=1" && refused.cookie("drover_session") == nil)
        #expect(try await send(m, .GET, "/ui/login?failed=1").body.contains("<p class=\"error\">That token"))

        let accepted = try await send(m, .POST, "/ui/login", body: "token=\(Self.admin)", contentType: "application/x-www-form-urlencoded")
        #expect(accepted.status == 303 && accepted.headers["Location"].first == "/ui")
        let session = try #require(accepted.cookie("drover_session"))
        let csrf = try #require(accepted.cookie("drover_csrf"))
        #expect(
            accepted.headers["Set-Cookie"].contains {
                $0.contains("drover_session=") && $0.contains("HttpOnly") && $0.contains("SameSite=Strict")
            })
        let cookies = ["drover_session": session, "drover_csrf": csrf]

        let page = try await send(m, .GET, "/ui", cookies: cookies)
        #expect(page.status == 200 && page.body.contains("/ui/assets/dashboard.js"))
        // No inline script anywhere: the policy allows only the master's own files.
        #expect(!page.body.contains("<script>") && !page.body.contains("onclick="))
        let policy = try #require(page.headers["Content-Security-Policy"].first)
        #expect(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'") && !policy.contains("unsafe-inline"))
        #expect(page.headers["X-Content-Type-Options"].first == "nosniff" && page.headers["X-Frame-Options"].first == "DENY")
        for name in ["dashboard.js", "overview.js", "pages.js"] {
            #expect(page.body.contains("<script src=\"/ui/assets/\(name)\" defer></script>"))
            let script = try await send(m, .GET, "/ui/assets/\(name)", cookies: cookies)
            #expect(script.status == 200 && script.headers["Content-Type"].first?.hasPrefix("text/javascript") == true)
            #expect(!script.body.contains("innerHTML") && !script.body.contains("insertAdjacentHTML"), "user data is set as text only")
        }
        #expect(try await send(m, .GET, "/ui/assets/nothing.js").status == 404)

        // Reading by cookie needs no CSRF header; acting does.
        #expect(try await send(m, .GET, "/v1/queues", cookies: cookies).status == 200)
        _ = try await m.store.submit([JobRequest(queue: "mail", type: "noop")])
        let forged = try await send(m, .POST, "/v1/queues/mail/pause", cookies: cookies)
        #expect(forged.status == 403 && forged.body.contains("X-Drover-CSRF"))
        let wrong = try await send(
            m, .POST, "/v1/queues/mail/pause", cookies: cookies, headers: ["X-Drover-CSRF": String(repeating: "0", count: 64)])
        #expect(wrong.status == 403)
        #expect(try await m.store.queueCounts().first { $0.queue == "mail" }?.paused == false)
        let paused = try await send(m, .POST, "/v1/queues/mail/pause", cookies: cookies, headers: ["X-Drover-CSRF": csrf])
        #expect(paused.status == 200 && paused.body.contains(#""paused":true"#))

        // A read token sees the pages and acts on nothing, CSRF header or not.
        let reader = try await send(m, .POST, "/ui/login", body: "token=\(Self.reader)", contentType: "application/x-www-form-urlencoded")
        let readCookies = ["drover_session": try #require(reader.cookie("drover_session")), "drover_csrf": csrf]
        #expect(try await send(m, .GET, "/ui", cookies: readCookies).status == 200)
        #expect(try await send(m, .GET, "/v1/queues", cookies: readCookies).status == 200)
        let readerPause = try await send(m, .POST, "/v1/queues/mail/resume", cookies: readCookies, headers: ["X-Drover-CSRF": csrf])
        #expect(readerPause.status == 403 && readerPause.body.contains("forbidden"))

        let logout = try await send(m, .POST, "/ui/logout", cookies: cookies, headers: ["X-Drover-CSRF": csrf])
        #expect(
            logout.status == 204 && logout.headers["Set-Cookie"].contains { $0.hasPrefix("drover_session=;") && $0.contains("Max-Age=0") })
    }

    @Test func theEventStreamSendsQueueCountsAndTheMastersThroughputSamples() async throws {
        let m = try await MasterFixture.start()
        defer { Task { await m.stop() } }
        _ = try await m.store.submit([JobRequest(queue: "live", type: "noop")])
        var request = HTTPClientRequest(url: m.httpURL + "/ui/events")
        request.method = .GET
        let response = try await m.http.execute(request, timeout: .seconds(30))
        #expect(response.headers["Content-Type"].first == "text/event-stream")
        var text = ""
        for try await buffer in response.body {
            text += String(buffer: buffer)
            // The master samples once a second; the stream sends what it took since.
            if text.contains("event: queues") && text.contains("event: throughput\ndata: ") && text.hasSuffix("\n\n") { break }
        }
        #expect(text.contains("event: queues\ndata: {\"queues\":[") && text.contains(#""queue":"live""#))
        let throughput = try #require(text.components(separatedBy: "event: throughput\ndata: ").dropFirst().first?.prefix { $0 != "\n" })
        guard case .throughput(let queues) = try APIResult(.throughput, json: String(throughput)) else {
            Issue.record("not a throughput answer: \(throughput)")
            return
        }
        #expect(queues.first { $0.queue == "live" }?.samples.isEmpty == false)
    }
}
