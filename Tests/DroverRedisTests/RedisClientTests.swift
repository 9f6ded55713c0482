import DroverRedis
import DroverTestSupport
import Foundation
import Testing

@Suite(.serialized) struct RedisClientTests {
    @Test func commandsPipelineAndBinarySafety() async throws {
        let server = try await RedisServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        defer { Task { await client.close() } }

        #expect(try await client.send("PING") == .simpleString("PONG"))
        let binary: [UInt8] = [0, 13, 10, 255, 36]
        try await client.send("SET", "bin", binary)
        #expect(try await client.send("GET", "bin") == .bulkString(binary))
        #expect(try await client.send("GET", "missing") == .null)

        let replies = try await client.pipeline((0..<1000).map { _ in RedisCommand("INCR", "counter") })
        #expect(replies.count == 1000)
        #expect(replies.last == .integer(1000))

        // Many tasks sharing one connection each get their own reply.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask {
                    try await client.send("SET", "k\(i)", "v\(i)")
                    #expect(try await client.send("GET", "k\(i)").string == "v\(i)")
                }
            }
            try await group.waitForAll()
        }
    }

    @Test func errorRepliesAreTyped() async throws {
        let server = try await RedisServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        defer { Task { await client.close() } }
        try await client.send("SET", "s", "x")
        await #expect(throws: RedisError.self) { try await client.send("LPUSH", "s", "y") }
        do {
            try await client.send("NOSUCHCOMMAND")
            Issue.record("expected an error")
        } catch {
            guard case .server(let message) = error else {
                Issue.record("got \(error)")
                return
            }
            #expect(message.contains("unknown command"))
        }
        // In a pipeline, an error stays in its slot and the rest run.
        let replies = try await client.pipeline([RedisCommand("INCR", "s"), RedisCommand("SET", "t", "1")])
        if case .error = replies[0] {} else { Issue.record("expected an error reply, got \(replies[0])") }
        #expect(replies[1] == .simpleString("OK"))
    }

    @Test func functionLibrariesLoadWhenMissing() async throws {
        let server = try await RedisServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        defer { Task { await client.close() } }
        let library = RedisFunctionLibrary(
            prefix: "test",
            body: "redis.register_function(LIBRARY .. '_add', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)")
        let add = library.function("add")
        #expect(library.name.hasPrefix("test_") && add.name == library.name + "_add")
        #expect(try await client.run(add, keys: ["n"], arguments: [5]) == .integer(5))
        let listed = try await client.send("FUNCTION", "LIST", "LIBRARYNAME", library.name)
        #expect(listed.array?.count == 1)
        try await client.send("FUNCTION", "FLUSH")
        #expect(try await client.run(add, keys: ["n"], arguments: [2]) == .integer(7))
        try await client.send("FUNCTION", "FLUSH")
        let replies = try await client.run([
            RedisFunction.Call(add, keys: ["n"], arguments: [1]), RedisFunction.Call(add, keys: ["n"], arguments: [1]),
        ])
        #expect(replies == [.integer(8), .integer(9)])
        // A changed library is another library: both versions can be loaded at once.
        let changed = RedisFunctionLibrary(
            prefix: "test",
            body: "redis.register_function(LIBRARY .. '_add', function(keys, args) return redis.call('INCRBY', keys[1], 2 * args[1]) end)")
        #expect(changed.name != library.name)
        #expect(try await client.run(changed.function("add"), keys: ["n"], arguments: [1]) == .integer(11))
        #expect(try await client.run(add, keys: ["n"], arguments: [1]) == .integer(12))
    }

    @Test func refusedConnectionIsATypedError() async throws {
        try await RedisServer.withRefusingPort { port in
            let client = RedisClient(configuration: try RedisConfiguration("redis://127.0.0.1:\(port)"))
            defer { Task { await client.close() } }
            do {
                try await client.send("PING")
                Issue.record("expected an error")
            } catch let error as RedisError {
                guard case .connectionFailed = error else {
                    Issue.record("got \(error)")
                    return
                }
            }
        }
    }

    @Test func timeoutDropsTheConnectionAndTheNextCommandReconnects() async throws {
        let server = try await RedisServer.start(arguments: ["--enable-debug-command", "yes"])
        defer { Task { await server.stop() } }
        var configuration = try RedisConfiguration(server.url)
        configuration.commandTimeout = .milliseconds(200)
        let client = RedisClient(configuration: configuration)
        defer { Task { await client.close() } }
        do {
            try await client.send("DEBUG", "SLEEP", "1")
            Issue.record("expected a timeout")
        } catch {
            guard case .timeout(let command, _) = error else {
                Issue.record("got \(error)")
                return
            }
            #expect(command == "DEBUG")
        }
        // After the server wakes up, a new connection works.
        var answered = false
        for _ in 0..<50 where !answered {
            answered = (try? await client.send("PING")) == .simpleString("PONG")
        }
        #expect(answered)
    }

    @Test func reconnectsAfterTheServerDropsUs() async throws {
        let server = try await RedisServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        defer { Task { await client.close() } }
        let admin = try server.client()
        defer { Task { await admin.close() } }
        try await client.send("CLIENT", "SETNAME", "victim")
        try await admin.send("CLIENT", "KILL", "SKIPME", "no", "TYPE", "normal")
        // The kill may land before or after our next command; either way one retry suffices.
        if (try? await client.send("PING")) == nil {
            #expect(try await client.send("PING") == .simpleString("PONG"))
        }
    }

    @Test func authenticatesAndSelectsTheDatabase() async throws {
        let server = try await RedisServer.start(arguments: ["--requirepass", "s3cret"], password: nil)
        defer { Task { await server.stop() } }
        let client = RedisClient(configuration: try RedisConfiguration("redis://:s3cret@127.0.0.1:\(server.port)/4"))
        defer { Task { await client.close() } }
        try await client.send("SET", "where", "db4")
        #expect(try await client.send("CLIENT", "INFO").string?.contains("db=4") == true)

        let wrong = RedisClient(configuration: try RedisConfiguration("redis://:nope@127.0.0.1:\(server.port)"))
        defer { Task { await wrong.close() } }
        do {
            try await wrong.send("PING")
            Issue.record("expected an authentication error")
        } catch {
            guard case .authenticationFailed = error else {
                Issue.record("got \(error)")
                return
            }
        }
    }

    @Test func aclUserAndUnixSocket() async throws {
        let socket = FileManager.default.temporaryDirectory.appendingPathComponent("drover-\(UUID().uuidString.prefix(6)).sock").path
        let server = try await RedisServer.start(arguments: ["--unixsocket", socket, "--unixsocketperm", "700"], password: nil)
        defer { Task { await server.stop() } }
        let admin = try server.client()
        defer { Task { await admin.close() } }
        try await admin.send("ACL", "SETUSER", "app", "on", ">pw", "~*", "+@all")
        let client = RedisClient(configuration: try RedisConfiguration("redis://app:pw@127.0.0.1:\(server.port)"))
        defer { Task { await client.close() } }
        #expect(try await client.send("ACL", "WHOAMI").string == "app")

        let overSocket = RedisClient(configuration: try RedisConfiguration("unix://\(socket)?db=1"))
        defer { Task { await overSocket.close() } }
        try await overSocket.send("SET", "via", "socket")
        #expect(try await admin.pipeline([RedisCommand("SELECT", "1"), RedisCommand("GET", "via")])[1].string == "socket")
    }

    @Test func subscriberReceivesMessages() async throws {
        let server = try await RedisServer.start()
        defer { Task { await server.stop() } }
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        let subscriber = RedisClient(configuration: try RedisConfiguration(server.url), subscriptions: ["news"]) { message in
            if case .array(let parts) = message, parts.count == 3, let text = parts[2].string { continuation.yield(text) }
        }
        defer { Task { await subscriber.close() } }
        try await subscriber.connect()
        let publisher = try server.client()
        defer { Task { await publisher.close() } }
        #expect(try await publisher.send("PUBLISH", "news", "hello").int == 1)
        var iterator = stream.makeAsyncIterator()
        #expect(await iterator.next() == "hello")
    }

    @Test func garbageFromThePeerIsAProtocolError() async throws {
        let fake = try await FakeRedisServer(.reply(Array("?this is not RESP\r\n".utf8)))
        defer { Task { await fake.stop() } }
        let client = RedisClient(configuration: try RedisConfiguration(fake.url), logger: quietLogger)
        defer { Task { await client.close() } }
        do {
            try await client.send("PING")
            Issue.record("expected a protocol error")
        } catch {
            guard case .protocolError = error else {
                Issue.record("got \(error)")
                return
            }
        }
    }

    @Test func aPeerClosingMidCommandIsConnectionClosed() async throws {
        let fake = try await FakeRedisServer(.close)
        defer { Task { await fake.stop() } }
        let client = RedisClient(configuration: try RedisConfiguration(fake.url), logger: quietLogger)
        defer { Task { await client.close() } }
        await #expect(throws: RedisError.connectionClosed) { try await client.send("PING") }
    }

    @Test func aSilentPeerTimesOut() async throws {
        let fake = try await FakeRedisServer(.silent)
        defer { Task { await fake.stop() } }
        var configuration = try RedisConfiguration(fake.url)
        configuration.commandTimeout = .milliseconds(100)
        let client = RedisClient(configuration: configuration, logger: quietLogger)
        defer { Task { await client.close() } }
        await #expect(throws: RedisError.timeout(command: "GET", after: .milliseconds(100))) { try await client.send("GET", "k") }
    }

    @Test func reconnectBackoffDoublesUpToItsCap() throws {
        let configuration = RedisConfiguration(
            url: try RedisURL("redis://h"), reconnectInitialDelay: .milliseconds(50), reconnectMaximumDelay: .milliseconds(500))
        let delays = (0...6).map { configuration.reconnectDelay(afterFailures: $0) }
        #expect(
            delays == [
                .zero, .milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(500),
                .milliseconds(500),
            ])
        #expect(configuration.reconnectDelay(afterFailures: 10_000) == .milliseconds(500))
    }

    @Test func aClosedClientSaysSo() async throws {
        let client = RedisClient(configuration: try RedisConfiguration("redis://127.0.0.1:1"))
        await client.close()
        await #expect(throws: RedisError.clientClosed) { try await client.send("PING") }
    }
}
