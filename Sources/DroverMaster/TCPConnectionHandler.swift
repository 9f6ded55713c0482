import DroverAPI
import DroverCore
import Logging
import NIOCore
import NIOSSL

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
