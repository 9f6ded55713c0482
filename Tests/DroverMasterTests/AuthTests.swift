import AsyncHTTPClient
import Drover
import DroverAPI
import DroverCore
import DroverMaster
import DroverRemote
import DroverTestSupport
import Foundation
import NIOHTTP1
import Testing

/// Token auth: every REST route and TCP operation, with no token, a wrong token and a token of
/// the wrong role.
@Suite struct AuthTests {
    static let tokens = (
        read: "read-token-0123456789", client: "client-token-0123456789", worker: "worker-token-0123456789",
        admin: "admin-token-0123456789"
    )
    static let auth = TokenAuthenticator(entries: [
        (.read, tokens.read), (.client, tokens.client), (.worker, tokens.worker), (.admin, tokens.admin),
    ])

    /// Each route with a body it accepts, the role it needs, and a role that must be refused.
    static let routes: [(HTTPMethod, String, String?, needs: Role)] = [
        (.POST, "/v1/jobs", #"{"type":"noop"}"#, .client),
        (.POST, "/v1/jobs/batch", #"{"jobs":[{"type":"noop"}]}"#, .client),
        (.GET, "/v1/jobs/01M8N945K80AZ4KQXAB38NSFAP", nil, .client),
        (.GET, "/v1/queues", nil, .client),
        (.GET, "/v1/queues/default/jobs?state=QUEUED", nil, .client),
        (.GET, "/v1/workers", nil, .client),
        (.GET, "/metrics", nil, .client),
        (.GET, "/v1/dead-letters", nil, .admin),
        (.POST, "/v1/dead-letters/01M8N945K80AZ4KQXAB38NSFAP/retry", nil, .admin),
        (.DELETE, "/v1/dead-letters", nil, .admin),
        (.POST, "/v1/workers/w1/heartbeat", #"{"queues":["default"]}"#, .worker),
        (.POST, "/v1/workers/w1/claim", #"{"queues":["default"],"max":1}"#, .worker),
        (.POST, "/v1/workers/w1/start", #"{"jobs":[]}"#, .worker),
        (.POST, "/v1/workers/w1/complete", #"{"reports":[]}"#, .worker),
        (.POST, "/v1/workers/w1/fail", #"{"reports":[]}"#, .worker),
        (.POST, "/v1/workers/w1/reconcile", #"{"queues":["default"]}"#, .worker),
        (.DELETE, "/v1/workers/w1", nil, .worker),
    ]

    static func token(for role: Role) -> String {
        switch role {
        case .read: tokens.read
        case .client: tokens.client
        case .worker: tokens.worker
        case .admin: tokens.admin
        }
    }

    @Test func everyRouteWantsTheRightToken() async throws {
        let m = try await MasterFixture.start(auth: Self.auth)
        defer { Task { await m.stop() } }
        for (method, path, body, needs) in Self.routes {
            let none = try await m.request(method, path, body: body)
            #expect(none.status == 401 && none.body.contains(#""code":"unauthorized""#), "\(method) \(path) without a token: \(none)")
            let wrong = try await m.request(method, path, body: body, token: "not-a-token-at-all-00000")
            #expect(wrong.status == 401, "\(method) \(path) with a wrong token: \(wrong)")
            // A read token may do what a client may, as long as it changes nothing.
            let alsoAllowed: [Role] = needs == .client && method == .GET ? [.read] : []
            for role in Role.allCases where role != needs && role != .admin && !alsoAllowed.contains(role) {
                let refused = try await m.request(method, path, body: body, token: Self.token(for: role))
                #expect(refused.status == 403 && refused.body.contains(#""code":"forbidden""#), "\(method) \(path) as \(role): \(refused)")
            }
            for role in [needs, .admin] + alsoAllowed {
                let allowed = try await m.request(method, path, body: body, token: Self.token(for: role))
                #expect(allowed.status != 401 && allowed.status != 403, "\(method) \(path) as \(role): \(allowed)")
            }
        }
        // Health checks need no token.
        #expect(try await m.request(.GET, "/health").status == 200)
    }

    @Test func tcpWantsAHelloWithTheRightToken() async throws {
        let m = try await MasterFixture.start(auth: Self.auth)
        defer { Task { await m.stop() } }
        let operations: [(String, Role)] = [
            (#""op":"submit","type":"noop""#, .client), (#""op":"submitBatch","jobs":[{"type":"noop"}]"#, .client),
            (#""op":"get","id":"01M8N945K80AZ4KQXAB38NSFAP""#, .client), (#""op":"queues""#, .client),
            (#""op":"jobs","queue":"default","state":"QUEUED""#, .client), (#""op":"workers""#, .client),
            (#""op":"deadLetters""#, .admin), (#""op":"retryDeadLetter","id":"01M8N945K80AZ4KQXAB38NSFAP""#, .admin),
            (#""op":"purgeDeadLetters""#, .admin), (#""op":"heartbeat","worker":"w1""#, .worker),
            (#""op":"claim","worker":"w1","queues":["default"]"#, .worker), (#""op":"start","worker":"w1","jobs":[]"#, .worker),
            (#""op":"complete","worker":"w1","reports":[]"#, .worker), (#""op":"fail","worker":"w1","reports":[]"#, .worker),
            (#""op":"reconcile","worker":"w1","queues":["default"]"#, .worker), (#""op":"deregister","worker":"w1""#, .worker),
        ]
        for (fields, needs) in operations {
            // No hello: one 401 frame, then the connection is closed.
            let anonymous = try TCPLineClient(port: m.tcpPort)
            anonymous.send("{\"requestId\":1,\(fields)}\n")
            #expect(await anonymous.nextLine()?.contains(#""status":401"#) == true, "\(fields) without hello")
            #expect(await anonymous.nextLine() == nil)
            // A wrong token: 401 and closed.
            let impostor = try TCPLineClient(port: m.tcpPort)
            impostor.send(#"{"requestId":0,"op":"hello","token":"not-a-token-at-all-00000"}"# + "\n")
            #expect(await impostor.nextLine()?.contains(#""status":401"#) == true)
            #expect(await impostor.nextLine() == nil)
            // A read token may read what a client may.
            let reads = [#""op":"get""#, #""op":"queues""#, #""op":"jobs""#, #""op":"workers""#].contains { fields.hasPrefix($0) }
            let alsoAllowed: [Role] = reads ? [.read] : []
            // A token of another role: 403 for this operation, and the connection stays up.
            for role in Role.allCases where role != needs && role != .admin && !alsoAllowed.contains(role) {
                let other = try TCPLineClient(port: m.tcpPort)
                other.send(#"{"requestId":0,"op":"hello","token":"\#(Self.token(for: role))"}"# + "\n")
                #expect(await other.nextLine()?.contains(#""role":"\#(role.rawValue)""#) == true)
                other.send("{\"requestId\":2,\(fields)}\n")
                #expect(await other.nextLine()?.contains(#""status":403"#) == true, "\(fields) as \(role)")
                other.send(#"{"requestId":3,"op":"health"}"# + "\n")
                #expect(await other.nextLine()?.contains(#""ok":true"#) == true)
            }
            // The right role (and admin) are answered.
            for role in [needs, .admin] + alsoAllowed {
                let allowed = try TCPLineClient(port: m.tcpPort)
                allowed.send(#"{"requestId":0,"op":"hello","token":"\#(Self.token(for: role))"}"# + "\n")
                _ = await allowed.nextLine()
                allowed.send("{\"requestId\":4,\(fields)}\n")
                let answer = try #require(await allowed.nextLine())
                #expect(!answer.contains(#""status":401"#) && !answer.contains(#""status":403"#), "\(fields) as \(role): \(answer)")
            }
        }
    }

    @Test(arguments: ["http", "tcp"])
    func remoteWorkersAndClientsPresentTheirTokens(_ scheme: String) async throws {
        let m = try await MasterFixture.start(auth: Self.auth)
        defer { Task { await m.stop() } }
        let url = scheme == "http" ? m.httpURL : m.tcpURL
        let workerStore = try RemoteJobStore(masterURL: url, token: Self.tokens.worker)
        let worker = Worker(
            store: workerStore, handlers: TestHandlers.all,
            configuration: .init(
                id: "authed-\(scheme)", heartbeatInterval: .milliseconds(200), fetchTimeout: .seconds(1), maintenance: nil),
            logger: quietLogger)
        let running = start(worker)
        let clientStore = try RemoteJobStore(masterURL: url, token: Self.tokens.client)
        defer { Task { await clientStore.close() } }
        let client = DroverClient(store: clientStore)
        let id = try await client.submit(JobRequest(type: "echo", payload: #""ok""#)).id
        #expect(try await client.result(of: id, as: String.self, timeout: .seconds(30)) == "ok")
        // A client token cannot purge dead letters; a missing token cannot even read.
        await #expect(throws: RemoteError.self) { try await client.purgeDeadLetters(queue: "default") }
        let anonymous = try RemoteJobStore(masterURL: url)
        await #expect(throws: RemoteError.self) { try await anonymous.queueCounts() }
        worker.shutdown()
        try await running.value
        await workerStore.close()
        await anonymous.close()
    }

    @Test func tokensCompareWholeAndAuthFilesAreChecked() throws {
        #expect(Self.auth.role(for: Self.tokens.admin) == .admin)
        #expect(Self.auth.role(for: Self.tokens.admin + "x") == nil)
        #expect(Self.auth.role(for: String(Self.tokens.admin.dropLast())) == nil)
        #expect(Self.auth.role(for: "") == nil)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("drover-auth-\(UUID().uuidString.prefix(6))").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "# tokens\nclient aaaaaaaaaaaaaaaaaaaa\n\nworker bbbbbbbbbbbbbbbbbbbb  # the fleet\n".write(
            toFile: file, atomically: true, encoding: .utf8)
        let parsed = try TokenAuthenticator(contentsOf: file)
        #expect(parsed.role(for: "bbbbbbbbbbbbbbbbbbbb") == .worker)
        try "boss cccccccccccccccccccc\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: AuthFileError.self) { try TokenAuthenticator(contentsOf: file) }
        try "admin short\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: AuthFileError.self) { try TokenAuthenticator(contentsOf: file) }
    }
}
