import DroverAPI
import DroverCore
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Operations as frames on one TCP connection to the master: each request carries a
/// `requestId`, answers are matched by it, so any number of calls share the connection.
/// The connection is opened on first use and again after it breaks.
public final class TCPTransport: MasterTransport {
    let host: String
    let port: Int
    let token: String?
    let tls: NIOSSLContext?
    private let state = Mutex(State())
    private let nextID = Atomic<Int>(1)

    private struct State {
        var channel: (any Channel)?
        var connecting: Task<any Channel, any Error>?
        var waiting: [Int: OneShot<String>] = [:]
        var closed = false
    }

    /// - Parameters:
    ///   - token: presented in a `hello` frame first thing on every connection.
    ///   - tls: TLS to the master (`tcps://`): how to check it and what to present to it.
    public init(host: String, port: Int, token: String? = nil, tls: TLSConfiguration? = nil) throws {
        self.host = host
        self.port = port
        self.token = token
        self.tls = try tls.map { try NIOSSLContext(configuration: $0) }
    }

    public func close() async {
        let channel = state.withLock { state -> (any Channel)? in
            state.closed = true
            return state.channel
        }
        try? await channel?.close()
    }

    public func call(_ request: APIRequest, timeout: Duration) async throws(RemoteError) -> String {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let op = request.operation.rawValue
        var members = request.fields
        members["op"] = JSONScanner.quote(op)
        members["requestId"] = String(id)
        let frame = APIRequest.object(members) + "\n"
        let channel: any Channel
        do {
            channel = try await connection()
        } catch {
            throw .unreachable("\(host):\(port): \(error)")
        }
        return try Self.unwrap(try await exchange(frame, id: id, op: op, on: channel, timeout: timeout))
    }

    /// Sends one frame and waits for the answer with the same id.
    private func exchange(_ frame: String, id: Int, op: String, on channel: any Channel, timeout: Duration) async throws(RemoteError)
        -> String
    {
        let call = OneShot<String>()
        state.withLock { $0.waiting[id] = call }
        defer { state.withLock { _ = $0.waiting.removeValue(forKey: id) } }
        let answer: String
        do {
            answer = try await withThrowingTaskGroup(of: String.self) { group in
                group.addTask {
                    try await call.wait(registered: {
                        channel.writeAndFlush(ByteBuffer(string: frame)).whenFailure { call.finish(.failure($0)) }
                    })
                }
                group.addTask {
                    // Whichever way this ends, the waiting call must be finished, or the group
                    // would wait for it forever.
                    do {
                        try await Task.sleep(for: timeout)
                    } catch {
                        call.finish(.failure(CancellationError()))
                        throw error
                    }
                    let error = RemoteError.unreachable("no answer to \(op) within \(timeout)")
                    call.finish(.failure(error))
                    throw error
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        } catch let error as RemoteError {
            throw error
        } catch {
            throw .unreachable(String(describing: error))
        }
        return answer
    }

    /// `{"requestId":N,"ok":true,"result":...}` → the result; an error frame → the error.
    static func unwrap(_ frame: String) throws(RemoteError) -> String {
        guard let fields = try? JSONScanner.objectFields(frame) else { throw .badResponse(String(frame.prefix(200))) }
        if fields["ok"] == "true", let result = fields["result"] { return result }
        if let error = fields["error"].flatMap(APIError.decode(errorObject:)) { throw .api(error) }
        throw .badResponse("status \(fields["status"] ?? "none"): \(frame.prefix(200))")
    }

    private func resume(_ id: Int, with result: Result<String, any Error>) {
        state.withLock { $0.waiting[id] }?.finish(result)
    }

    fileprivate func received(_ frame: String) {
        guard let fields = try? JSONScanner.objectFields(frame), let id = fields["requestId"].flatMap({ Int($0) }) else { return }
        resume(id, with: .success(frame))
    }

    fileprivate func lost(_ channel: any Channel) {
        let waiting = state.withLock { state -> [OneShot<String>] in
            guard state.channel === channel else { return [] }
            state.channel = nil
            return Array(state.waiting.values)
        }
        for call in waiting { call.finish(.failure(RemoteError.unreachable("the connection to the master closed"))) }
    }

    private func connection() async throws -> any Channel {
        let task = try state.withLock { state -> Task<any Channel, any Error> in
            if state.closed { throw RemoteError.unreachable("the transport is closed") }
            if let channel = state.channel, channel.isActive { return Task { channel } }
            if let connecting = state.connecting { return connecting }
            let task = Task<any Channel, any Error> { try await self.connect() }
            state.connecting = task
            return task
        }
        do {
            let channel = try await task.value
            state.withLock { state in
                state.connecting = nil
                state.channel = channel
            }
            return channel
        } catch {
            state.withLock { $0.connecting = nil }
            throw error
        }
    }

    private func connect() async throws -> any Channel {
        let tls = self.tls
        // SNI and name checks take a host name; an IP address is checked against the
        // certificate's IP entries instead.
        let serverName = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameSplitter()))
                    try channel.pipeline.syncOperations.addHandler(FrameReceiver(transport: self))
                }
            }
            .connect(host: host, port: port).get()
        channel.closeFuture.whenComplete { _ in self.lost(channel) }
        if let token {
            // The master answers nothing else on this connection until it has seen the token.
            let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
            let hello = #"{"requestId":\#(id),"op":"hello","token":\#(JSONScanner.quote(token))}"# + "\n"
            do {
                _ = try Self.unwrap(try await exchange(hello, id: id, op: "hello", on: channel, timeout: .seconds(10)))
            } catch {
                try? await channel.close()
                throw error
            }
        }
        return channel
    }
}

/// Splits the master's answers at newlines.
private struct FrameSplitter: ByteToMessageDecoder {
    typealias InboundOut = String

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return .needMoreData }
        let line = buffer.readString(length: newline - buffer.readerIndex)!
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }
}

private final class FrameReceiver: ChannelInboundHandler, Sendable {
    typealias InboundIn = String
    let transport: TCPTransport

    init(transport: TCPTransport) { self.transport = transport }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        transport.received(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
