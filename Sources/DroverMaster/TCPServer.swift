import DroverAPI
import DroverCore
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// The raw TCP front door: one JSON object per line, the same operations as REST.
///
/// A request is `{"requestId":1,"op":"submit","type":"noop"}`; its answer echoes the id:
/// `{"requestId":1,"ok":true,"status":201,"result":{...}}` or
/// `{"requestId":1,"ok":false,"error":{"code":"...","message":"..."}}`. Requests on one
/// connection run concurrently, so answers may come back out of order: match them by id.
/// A frame longer than the limit or not a JSON object gets an error frame; after several bad
/// frames in a row the connection is closed. Every other connection carries on.
public final class TCPServer: Service, Sendable {
    let host: String
    let port: Int
    let api: MasterAPI
    let limits: MasterLimits
    let doors: MasterDoors
    let tls: NIOSSLContext?
    let connectionGuard: ConnectionGuard
    let logger: Logger
    private let bound: EventLoopPromise<Int>

    init(host: String, port: Int, api: MasterAPI, limits: MasterLimits, doors: MasterDoors, tls: NIOSSLContext?, logger: Logger) {
        self.host = host
        self.port = port
        self.api = api
        self.limits = limits
        self.doors = doors
        self.tls = tls
        self.connectionGuard = ConnectionGuard(door: "tcp", limits: limits, logger: logger)
        self.logger = logger
        self.bound = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: Int.self)
    }

    /// The port actually listened on, once listening (useful with port 0).
    public var boundPort: Int {
        get async throws { try await bound.futureResult.get() }
    }

    public func run() async throws {
        let api = self.api
        let limits = self.limits
        let doors = self.doors
        let tls = self.tls
        let connectionGuard = self.connectionGuard
        let logger = self.logger
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { child in
                    child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.addHandler(ConnectionGuardHandler(connectionGuard: connectionGuard))
                        if let tls { try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                        try child.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(LineFrameDecoder(maxLength: limits.maxFrameBytes)))
                        try child.pipeline.syncOperations.addHandler(
                            TCPConnectionHandler(api: api, limits: limits, doors: doors, logger: logger))
                    }
                }
                .bind(host: host, port: port).get()
        } catch {
            bound.fail(error)
            throw error
        }
        bound.succeed(channel.localAddress?.port ?? port)
        logger.info("TCP listening", metadata: ["address": "\(host):\(channel.localAddress?.port ?? port)"])
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
    }
}

/// One input line, or a line that was too long (its bytes dropped up to the next newline).
package enum Frame {
    case line(ByteBuffer)
    case tooLong(Int)
}

/// Splits input at `\n` (a preceding `\r` is dropped) and never buffers more than
/// `maxLength` bytes of one frame.
package struct LineFrameDecoder: ByteToMessageDecoder {
    package typealias InboundOut = Frame
    let maxLength: Int
    private var discarding = 0

    package init(maxLength: Int) {
        self.maxLength = maxLength
    }

    package mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        if let newline = view.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - view.startIndex
            if discarding > 0 {
                buffer.moveReaderIndex(forwardBy: length + 1)
                context.fireChannelRead(wrapInboundOut(.tooLong(discarding + length)))
                discarding = 0
                return .continue
            }
            var line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            if line.readableBytesView.last == UInt8(ascii: "\r") {
                line = line.getSlice(at: line.readerIndex, length: line.readableBytes - 1)!
            }
            if length > maxLength {
                context.fireChannelRead(wrapInboundOut(.tooLong(length)))
            } else {
                context.fireChannelRead(wrapInboundOut(.line(line)))
            }
            return .continue
        }
        if buffer.readableBytes > maxLength || discarding > 0 {
            // No newline yet and already too long: drop what we have and keep dropping.
            discarding += buffer.readableBytes
            buffer.moveReaderIndex(to: buffer.writerIndex)
        }
        return .needMoreData
    }

    package mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// Answers the frames of one connection.
final class TCPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = ByteBuffer

    let api: MasterAPI
    let limits: MasterLimits
    let doors: MasterDoors
    let logger: Logger
    private var badFramesInARow = 0
    private var pending = 0 {
        didSet { connectionGuard?.busy = pending }
    }
    private var inputClosed = false
    private var connectionGuard: ConnectionGuardHandler?
    /// Set by the `hello` frame, or by the first frame when auth is off; with auth on, nothing
    /// else is answered before a hello.
    private var caller: Caller?

    init(api: MasterAPI, limits: MasterLimits, doors: MasterDoors, logger: Logger) {
        self.api = api
        self.limits = limits
        self.doors = doors
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        connectionGuard = ConnectionGuardHandler.of(context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connectionGuard?.requestReceived()
        switch unwrapInboundIn(data) {
        case .tooLong(let length):
            reject(
                context, requestID: "null", APIError.tooLarge("frame of \(length) bytes is over the limit of \(limits.maxFrameBytes) bytes")
            )
        case .line(let buffer):
            let text = String(buffer: buffer)
            if text.allSatisfy(\.isWhitespace) { return }  // blank lines keep `nc` sessions friendly
            if let hello = Self.hello(text) { return greet(context, requestID: hello.requestID, token: hello.token) }
            if caller == nil && doors.auth == nil {
                do {
                    caller = try doors.caller(token: nil, certificate: clientCertificate(context))
                } catch {
                    return refuse(context, requestID: "null", error)
                }
            }
            guard let caller else {
                // Auth is on and this connection has not said hello: answer once and hang up.
                return refuse(context, requestID: "null", .unauthorized("send {\"op\":\"hello\",\"token\":\"…\"} first"))
            }
            let parsed: (requestID: String, request: APIRequest)
            switch TCPFrame.parse(text) {
            case .success(let value): parsed = value
            case .failure(let failure): return reject(context, requestID: failure.requestID, failure.error)
            }
            badFramesInARow = 0
            do {
                try caller.authorize(parsed.request)
            } catch {
                context.writeAndFlush(
                    wrapOutboundOut(ByteBuffer(string: Self.errorFrame(requestID: parsed.requestID, error) + "\n")), promise: nil)
                return
            }
            dispatch(parsed.request, requestID: parsed.requestID, context: context)
        }
    }

    /// The verified certificate the client presented, under mutual TLS.
    private func clientCertificate(_ context: ChannelHandlerContext) -> NIOSSLCertificate? {
        guard doors.clientCertificatesRequired else { return nil }
        return (try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self))?.peerCertificate
    }

    /// Answers with an error frame and hangs up.
    private func refuse(_ context: ChannelHandlerContext, requestID: String, _ error: APIError) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: Self.errorFrame(requestID: requestID, error) + "\n")), promise: nil)
        context.close(promise: nil)
    }

    /// Runs the request off the event loop; the answer goes back whenever it is ready.
    private func dispatch(_ request: APIRequest, requestID: String, context: ChannelHandlerContext) {
        let api = self.api
        let answer = context.eventLoop.makeFutureWithTask { await Self.answer(request, requestID: requestID, api: api) }
        pending += 1
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        answer.whenSuccess { frame in
            let (handler, context) = loopBound.value
            context.writeAndFlush(handler.wrapOutboundOut(ByteBuffer(string: frame + "\n")), promise: nil)
            handler.pending -= 1
            handler.closeIfDone(context)
        }
    }

    /// After the client closed its side (`nc` at the end of its input), the connection stays
    /// open until every request has been answered.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            inputClosed = true
            closeIfDone(context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func closeIfDone(_ context: ChannelHandlerContext) {
        if inputClosed && pending == 0 { context.close(promise: nil) }
    }

    /// A `{"op":"hello","token":"…"}` frame, if this is one.
    private static func hello(_ text: String) -> (requestID: String, token: String?)? {
        guard let fields = try? JSONScanner.objectFields(text), fields["op"] == #""hello""# else { return nil }
        let token = fields["token"].flatMap { try? WireFormat.decode(String.self, from: $0) }
        return (fields["requestId"] ?? "null", token)
    }

    private func greet(_ context: ChannelHandlerContext, requestID: String, token: String?) {
        let greeted: Caller
        do {
            // Without auth a hello needs no token: any given is ignored.
            greeted = try doors.caller(token: doors.auth == nil ? nil : token, certificate: clientCertificate(context))
        } catch {
            return refuse(context, requestID: requestID, error)
        }
        caller = greeted
        let identities = greeted.identities.map(JSONScanner.quote).joined(separator: ",")
        context.writeAndFlush(
            wrapOutboundOut(
                ByteBuffer(
                    string:
                        #"{"requestId":\#(requestID),"ok":true,"status":200,"result":{"role":"\#(greeted.role.rawValue)","identities":[\#(identities)]}}"#
                        + "\n")),
            promise: nil)
    }

    private static func answer(_ request: APIRequest, requestID: String, api: MasterAPI) async -> String {
        do {
            let response = try await api.perform(request)
            return #"{"requestId":\#(requestID),"ok":true,"status":\#(response.status),"result":\#(response.json)}"#
        } catch {
            return errorFrame(requestID: requestID, error)
        }
    }

    private func reject(_ context: ChannelHandlerContext, requestID: String, _ error: APIError) {
        badFramesInARow += 1
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: Self.errorFrame(requestID: requestID, error) + "\n")), promise: nil)
        if badFramesInARow >= limits.maxBadFrames {
            logger.warning(
                "closing a TCP connection after repeated bad frames", metadata: ["remote": "\(context.remoteAddress?.description ?? "?")"])
            context.close(promise: nil)
        }
    }

    static func errorFrame(requestID: String, _ error: APIError) -> String {
        #"{"requestId":\#(requestID),"ok":false,"status":\#(error.status),"error":\#(error.errorObject)}"#
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// What one TCP frame asks for.
package enum TCPFrame {
    package struct ParseFailure: Error {
        var requestID: String
        var error: APIError
    }

    /// One frame's request, or the error frame's id and error.
    package static func parse(_ text: String) -> Result<(requestID: String, request: APIRequest), ParseFailure> {
        let fields: RequestFields
        do {
            fields = try RequestFields(json: text)
        } catch {
            return .failure(ParseFailure(requestID: "null", error: error))
        }
        let requestID = fields.raw["requestId"] ?? "null"
        do {
            guard let op = try fields.string("op") else { throw APIError.malformed("'op' is required") }
            return .success((requestID, try APIRequest(op: op, fields: fields)))
        } catch {
            return .failure(ParseFailure(requestID: requestID, error: APIError(inMaster: error)))
        }
    }
}
