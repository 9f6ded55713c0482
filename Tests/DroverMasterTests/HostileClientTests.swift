import AsyncHTTPClient
import DroverCore
import DroverMaster
import DroverRemote
import DroverTestSupport
import Foundation
import NIOHTTP1
import Synchronization
import Testing

/// Slow clients (slowloris), idle connections and connection floods against both doors: they are
/// cut off by the request deadline, the idle timeout and the connection cap, and the clients
/// that behave are served all along.
@Suite struct HostileClientTests {
    static func limits(requestTimeout: Duration = .seconds(30), idleTimeout: Duration = .seconds(30)) -> MasterLimits {
        MasterLimits(
            maxBodyBytes: 1 << 20, maxFrameBytes: 64 << 10, maxBadFrames: 3, maxConnections: 16, requestTimeout: requestTimeout,
            idleTimeout: idleTimeout)
    }

    /// Writes `chunks` one at a time, 100 ms apart, for as long as the server keeps the
    /// connection: the way a slowloris keeps a request open.
    static func dribble(_ chunks: [String], to connection: TCPLineClient) -> Task<Void, Never> {
        Task.detached {
            for chunk in chunks {
                connection.send(chunk)
                try? await Task.sleep(for: .milliseconds(100))
                if Task.isCancelled { return }
            }
        }
    }

    @Test(arguments: ["http", "tcp"])
    func aSlowlorisIsCutOffWhileOthersAreServed(_ door: String) async throws {
        let m = try await MasterFixture.start(limits: Self.limits(requestTimeout: .milliseconds(600)))
        defer { Task { await m.stop() } }
        let port = door == "http" ? m.httpPort : m.tcpPort
        let slow = try TCPLineClient(port: port)
        // A request that never ends: HTTP headers, or a TCP frame without its newline, a few
        // bytes every 100 ms for up to 10 s.
        let chunks =
            door == "http"
            ? ["POST /v1/jobs HTTP/1.1\r\n"] + (0..<100).map { "X-Slow-\($0): yes\r\n" }
            : [#"{"requestId":1,"op":"submit","type":"noop","payload":""#] + Array(repeating: "x", count: 100)
        let hungUp = slow.watchNextLine()
        let dribbling = Self.dribble(chunks, to: slow)
        // Meanwhile a well-behaved client is answered.
        let store = try RemoteJobStore(masterURL: door == "http" ? m.httpURL : m.tcpURL)
        _ = try await store.submit([JobRequest(type: "noop")])
        // The slow one is disconnected: its read ends with no answer, well before its 10 s of dribbling.
        // (Without the deadline its read would end only when the client's 10 s receive timeout
        // ran out, the server never having said a thing.)
        var ended = hungUp.makeAsyncIterator()
        let end = await ended.next()
        #expect(end == .closed)
        dribbling.cancel()
        _ = try await store.queueCounts()
        await store.close()
        // Nothing half-sent was submitted.
        #expect(try await m.store.queueCounts().first?.queued == 1)
    }

    @Test(arguments: ["http", "tcp"])
    func aFloodIsCappedAndDrainsWhileAnOpenConnectionKeepsWorking(_ door: String) async throws {
        // 2 s: far above the steady client's 50 ms pace.
        let limits = Self.limits(idleTimeout: .seconds(2))
        let m = try await MasterFixture.start(limits: limits)
        defer { Task { await m.stop() } }
        let port = door == "http" ? m.httpPort : m.tcpPort
        // A client connected before the flood, asking something every 50 ms, keeps its slot and
        // is answered throughout. It runs on a thread of its own: on Swift's cooperative pool,
        // other tests of a loaded run could hold its turn past the idle timeout, and the server
        // would rightly close it as idle.
        let steady = try TCPLineClient(port: m.tcpPort)
        let steadyAnswers = SteadyClient(steady)

        // The flood: connections that say nothing, as many as the door takes and more.
        var flood: [TCPLineClient] = []
        for _ in 0..<limits.maxConnections + 4 { flood.append(try TCPLineClient(port: port)) }
        // Over the cap, a connection is closed at once; the steady client is still answered.
        let extra = try TCPLineClient(port: port)
        var refused = extra.watchNextLine().makeAsyncIterator()
        #expect(await refused.next() == .closed)

        // Idle connections are closed after the idle timeout, which frees the door again.
        for connection in flood {
            var ended = connection.watchNextLine().makeAsyncIterator()
            #expect(await ended.next() == .closed)
        }
        // A client sees a connection's end a moment before the server has counted it closed, so
        // the first new connection may still find the door full: the door frees, soon.
        let freed = await eventually(timeout: .seconds(10)) {
            guard let store = try? RemoteJobStore(masterURL: door == "http" ? m.httpURL : m.tcpURL) else { return false }
            defer { Task { await store.close() } }
            return (try? await store.queueCounts()) != nil
        }
        #expect(freed, "the door did not take a new connection after the flood drained")
        let (answered, lost) = await steadyAnswers.stop()
        #expect(answered > 0 && !lost, "the steady client lost its connection after \(answered) answers")
    }

    @Test func aLongPollIsNotIdle() async throws {
        let m = try await MasterFixture.start(limits: Self.limits(idleTimeout: .seconds(1)))
        defer { Task { await m.stop() } }
        // A remote worker's claim that waits longer than the idle timeout: its connection is
        // busy, not idle, and gets its (empty) answer.
        // Both requests go at once, so nothing depends on how soon this test sends its second
        // (a loaded machine can hold it past the idle timeout): the claim's answer arriving
        // after 1.8 s on a connection with a 1 s idle timeout is the proof.
        let connection = try TCPLineClient(port: m.tcpPort)
        connection.send(
            #"{"requestId":7,"op":"claim","worker":"w","queues":["default"],"waitMs":1800}"# + "\n" + #"{"requestId":8,"op":"health"}"#
                + "\n")
        let answers = [try #require(await connection.nextLine()), try #require(await connection.nextLine())]
        #expect(answers.contains { $0.contains(#""requestId":7"#) && $0.contains(#""ok":true"#) }, "\(answers)")
        #expect(answers.contains { $0.contains(#""requestId":8"#) }, "\(answers)")
    }
}

/// Sends `health` every 50 ms on a thread of its own and counts the answers, until stopped or
/// until an answer does not come.
final class SteadyClient: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let outcome = OneShot<(answered: Int, lost: Bool)>()

    init(_ connection: TCPLineClient) {
        Thread { [self] in
            var answered = 0
            while !self.stopped.load(ordering: .relaxed) {
                connection.send(#"{"requestId":\#(answered),"op":"health"}"# + "\n")
                guard connection.readLineNow()?.contains(#""ok":true"#) == true else {
                    self.outcome.finish(.success((answered, true)))
                    return
                }
                answered += 1
                usleep(50_000)
            }
            self.outcome.finish(.success((answered, false)))
        }.start()
    }

    /// How many answers came, and whether the connection was lost before the stop.
    func stop() async -> (answered: Int, lost: Bool) {
        stopped.store(true, ordering: .relaxed)
        return (try? await outcome.wait()) ?? (0, true)
    }
}
